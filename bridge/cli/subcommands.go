package cli

// subcommands are the commands joai-bridge runs instead of the bridge when
// the first argument names one, such as "joai-bridge login".
var subcommands = map[string]subcommand{}
