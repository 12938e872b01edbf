package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/joai-ai/joai-mcp/bridge"
	"github.com/joai-ai/joai-mcp/bridge/credentials"
	"github.com/joai-ai/joai-mcp/bridge/hostconfig"
)

// The real service's two hosts, and the variables that point the bridge
// elsewhere.
const (
	defaultAPIURL = "https://api.joai.ai"

	envBaseURL  = "JOAI_BASE_URL"
	envAPIURL   = "JOAI_API_URL"
	envToken    = "JOAI_API_TOKEN"
	envAgent    = "JOAI_AGENT_UUID"
	envKeychain = "JOAI_KEYCHAIN"
)

// invocation is what a setup subcommand runs with: the arguments after its
// name and the process's environment and streams. Tests fill the hooks.
type invocation struct {
	ctx    context.Context
	args   []string
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer

	// keyring replaces the OS keychain. Nil means the system keychain,
	// unless JOAI_KEYCHAIN=off.
	keyring credentials.Keyring
	// executable returns the bridge's own path. Nil means os.Executable.
	executable func() (string, error)
	// goos replaces runtime.GOOS for host file locations. Empty means
	// runtime.GOOS.
	goos string
}

func (inv *invocation) printf(format string, args ...any) {
	fmt.Fprintf(inv.stdout, format, args...)
}

func (inv *invocation) errorf(format string, args ...any) {
	fmt.Fprintf(inv.stderr, "joai-bridge: "+format+"\n", args...)
}

func (inv *invocation) os() string {
	if inv.goos != "" {
		return inv.goos
	}
	return runtime.GOOS
}

// Exit statuses of the setup subcommands.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// target is the agent and the service that a subcommand talks to, with the
// token sources for it.
type target struct {
	baseURL string // the agent endpoint's base, such as https://cortex.joai.ai
	apiURL  string // the API's base, such as https://api.joai.ai
	agent   string // the agent UUID, or empty when unknown
	// agentFromLastLogin reports that agent is the default that the last
	// login stored, because neither --agent nor JOAI_AGENT_UUID was given.
	agentFromLastLogin bool

	tokenFile    string
	tokenCommand string
	caFile       string
}

// endpoint returns the agent's MCP endpoint URL, which is also the
// keychain account of its token.
func (t *target) endpoint() string {
	return credentials.Account(t.baseURL, t.agent)
}

// targetFlags registers the flags that choose the agent, the service and
// the token on fs, and returns a function that resolves them after parsing.
func targetFlags(fs *flag.FlagSet, inv *invocation) func() (*target, error) {
	t := &target{}
	var mockURL string
	fs.StringVar(&t.agent, "agent", "", "the agent `UUID`; default: $JOAI_AGENT_UUID, then the agent of the last login")
	fs.StringVar(&mockURL, "mock-url", "", "the `URL` of a joai-mock, which serves the agent endpoint and the API on one address; sets both JOAI_BASE_URL and JOAI_API_URL")
	fs.StringVar(&t.tokenFile, "token-file", "", "read the token from this `file` instead of the keychain")
	fs.StringVar(&t.tokenCommand, "token-command", "", "run this `command` and read the token from its output, for secrets managers")
	fs.StringVar(&t.caFile, "ca-file", "", "trust the certificates in this PEM `file` as well as the system's")
	return func() (*target, error) {
		t.baseURL = cmpOr(inv.getenv(envBaseURL), DefaultBaseURL)
		t.apiURL = cmpOr(inv.getenv(envAPIURL), defaultAPIURL)
		if mockURL != "" {
			t.baseURL, t.apiURL = mockURL, mockURL
		}
		var err error
		if t.baseURL, err = checkBaseURL(t.baseURL, envBaseURL, mockURL != ""); err != nil {
			return nil, err
		}
		if t.apiURL, err = checkBaseURL(t.apiURL, envAPIURL, mockURL != ""); err != nil {
			return nil, err
		}
		if t.tokenFile != "" && t.tokenCommand != "" {
			return nil, errors.New("--token-file and --token-command both name a token source: keep one")
		}
		if t.agent == "" {
			t.agent = inv.getenv(envAgent)
		}
		if t.agent == "" {
			t.agent = inv.loadSettings().Agents[t.baseURL]
			t.agentFromLastLogin = t.agent != ""
		}
		if t.agent != "" {
			if err := CheckAgentUUID(t.agent); err != nil {
				return nil, err
			}
			t.agent = strings.ToLower(t.agent)
		}
		return t, nil
	}
}

// checkBaseURL returns raw without a trailing slash, or an error naming the
// variable or flag it came from. The bridge's own endpoint rules apply:
// plain http only to loopback addresses, and no user name or password.
func checkBaseURL(raw, name string, fromMockURL bool) (string, error) {
	if fromMockURL {
		name = "--mock-url"
	}
	u, err := bridge.ParseEndpoint(raw, false)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%s %q has a query or fragment: give the base URL only, such as %s", name, raw, DefaultBaseURL)
	}
	return strings.TrimRight(raw, "/"), nil
}

// CheckAgentUUID returns an error naming s unless s is a UUID in the
// 8-4-4-4-12 hexadecimal form, which is the form of every agent's
// identifier in the agent endpoint's path. Every program of this module
// that takes --agent checks it with this function.
func CheckAgentUUID(s string) error {
	const hex = "0123456789abcdefABCDEF"
	ok := len(s) == 36
	for i := 0; ok && i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			ok = s[i] == '-'
		default:
			ok = strings.IndexByte(hex, s[i]) >= 0
		}
	}
	if !ok {
		return fmt.Errorf("agent %q is not a UUID such as 0b7e2c9a-1d3f-4c5e-8a6b-9c0d1e2f3a4b: copy it from the agent's settings, or run joai-bridge agents", s)
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// dirs returns the user's directories, from the environment the command
// was started with.
func (inv *invocation) dirs() (hostconfig.Dirs, error) {
	return hostconfig.DirsFromEnv(inv.os(), inv.getenv)
}

// configDir returns the bridge's own directory under the user
// configuration directory: the fallback token file and the settings.
func (inv *invocation) configDir() (string, error) {
	d, err := inv.dirs()
	if err != nil {
		return "", err
	}
	return filepath.Join(d.Config, "joai-bridge"), nil
}

// store returns the token store of the user the command runs for.
func (inv *invocation) store() (*credentials.Store, error) {
	dir, err := inv.configDir()
	if err != nil {
		return nil, err
	}
	k := inv.keyring
	switch v := inv.getenv(envKeychain); {
	case k != nil:
	case v == "off":
		k = credentials.NoKeyring("the keychain is turned off by " + envKeychain + "=off")
	case v == "" || v == "on":
		k = credentials.SystemKeyring()
	default:
		return nil, fmt.Errorf("%s=%q is not valid: use on or off", envKeychain, v)
	}
	return credentials.NewStore(&credentials.StoreOptions{Keyring: k, Dir: dir, GOOS: inv.os()})
}

// tokenChain returns the token sources for t in their documented order:
// --token-file or --token-command when given, else JOAI_API_TOKEN when set,
// else the keychain and then the fallback file. A flag or variable that is
// given is the only source, so a mistake in it is reported instead of
// silently using another token.
func (inv *invocation) tokenChain(t *target, store *credentials.Store) (*credentials.Chain, error) {
	switch {
	case t.tokenFile != "":
		return credentials.NewChain(bridge.FileToken{Path: t.tokenFile}), nil
	case t.tokenCommand != "":
		src, err := credentials.NewCommandSource(&credentials.CommandOptions{Command: t.tokenCommand, Stderr: inv.stderr})
		if err != nil {
			return nil, err
		}
		return credentials.NewChain(src), nil
	case inv.getenv(envToken) != "":
		return credentials.NewChain(credentials.EnvSource(envToken, inv.getenv)), nil
	case t.agent == "":
		return nil, fmt.Errorf("no agent given, so no stored token to use: pass --agent UUID (joai-bridge agents lists them), or run joai-bridge login --agent UUID first")
	}
	return credentials.NewChain(store.KeychainSource(t.endpoint()), store.FileSource(t.endpoint())), nil
}

// token returns the token for t from its chain. On failure it prints the
// error and returns the exit status.
func (inv *invocation) token(t *target) (string, int) {
	store, err := inv.store()
	if err != nil {
		inv.errorf("%v", err)
		return "", exitFailed
	}
	chain, err := inv.tokenChain(t, store)
	if err != nil {
		inv.errorf("%v", err)
		return "", exitUsage
	}
	tok, err := chain.Token(inv.ctx)
	if err != nil {
		inv.errorf("%v", err)
		return "", exitFailed
	}
	return tok, exitOK
}

// settings are the bridge's non-secret preferences, kept beside the
// fallback token file.
type settings struct {
	// Agents maps an agent endpoint base URL to the agent of the last
	// login there.
	Agents map[string]string `json:"agents"`
}

const settingsFileName = "settings.json"

// loadSettings returns the settings, empty ones when the file is missing
// or unreadable: they only supply defaults.
func (inv *invocation) loadSettings() settings {
	s := settings{Agents: map[string]string{}}
	dir, err := inv.configDir()
	if err != nil {
		return s
	}
	b, err := os.ReadFile(filepath.Join(dir, settingsFileName))
	if err != nil {
		return s
	}
	if json.Unmarshal(b, &s) != nil || s.Agents == nil {
		s.Agents = map[string]string{}
	}
	return s
}

// saveSettings writes the settings with mode 0600 in a 0700 directory, by
// atomic replace.
func (inv *invocation) saveSettings(s settings) error {
	dir, err := inv.configDir()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("saving settings: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".settings-*.json")
	if err != nil {
		return fmt.Errorf("saving settings: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, settingsFileName))
	}
	if err != nil {
		return fmt.Errorf("saving settings: %w", err)
	}
	return nil
}

// parseFlags parses args with fs, printing the error and usage to stderr.
// It reports whether the command should go on, and the exit status if not.
func parseFlags(fs *flag.FlagSet, inv *invocation, usage string) (bool, int) {
	fs.SetOutput(inv.stderr)
	fs.Usage = func() {
		fmt.Fprintf(inv.stderr, "usage: joai-bridge %s\n\nflags:\n", usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(inv.args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false, exitOK
		}
		return false, exitUsage
	}
	return true, exitOK
}

// defaultRequestTimeout bounds one request of a setup subcommand.
const defaultRequestTimeout = 30 * time.Second
