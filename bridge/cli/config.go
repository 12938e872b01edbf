package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/joai-ai/joai-mcp/bridge/credentials"
	"github.com/joai-ai/joai-mcp/bridge/hostconfig"
)

const configUsage = "config claude|cursor|vscode|claude-code [--name NAME] [--write] [--agent UUID] [--mock-url URL]"

// runConfig prints the host's configuration entry for the bridge, or with
// --write merges it into the host's file. The entry holds the bridge's
// absolute path, because hosts do not read shell profiles and so do not
// see PATH additions, and never a token.
func runConfig(inv *invocation) int {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	resolve := targetFlags(fs, inv)
	name := fs.String("name", "joai", "the server `name` in the host's file")
	write := fs.Bool("write", false, "merge the entry into the host's configuration file, keeping a backup")
	command := fs.String("command", "", "the bridge executable `path` to put in the entry; default: this program, symbolic links resolved")
	file := fs.String("file", "", "the host's configuration `file`; default: its usual place for this user")
	if ok, code := parseFlags(fs, inv, configUsage); !ok {
		return code
	}
	positional, err := reparse(fs)
	if err != nil {
		inv.errorf("%v", err)
		return exitUsage
	}
	if len(positional) != 1 {
		inv.errorf("name one host: joai-bridge %s", configUsage)
		return exitUsage
	}
	host, err := hostconfig.Lookup(positional[0])
	if err != nil {
		inv.errorf("%v", err)
		return exitUsage
	}
	if err := hostconfig.CheckName(*name); err != nil {
		inv.errorf("%v", err)
		return exitUsage
	}
	t, err := resolve()
	if err != nil {
		inv.errorf("%v", err)
		return exitUsage
	}
	if t.agent == "" {
		inv.errorf("no agent given and no earlier login: run joai-bridge login --agent UUID first, or pass --agent UUID")
		return exitUsage
	}
	server, err := inv.serverEntry(t, *command)
	if err != nil {
		inv.errorf("%v", err)
		return exitUsage
	}
	path := *file
	if path == "" {
		dirs, err := inv.dirs()
		if err != nil {
			inv.errorf("%v", err)
			return exitFailed
		}
		path = host.Path(dirs)
	}
	inv.warnNoStoredToken(t)

	if !*write {
		snippet, err := host.Snippet(*name, server)
		if err != nil {
			inv.errorf("%v", err)
			return exitFailed
		}
		inv.stdout.Write(snippet)
		fmt.Fprintf(inv.stderr, "Merge this into %s's %q in %s, or run this command again with --write to do it.\n", host.Title, host.Key, path)
		return exitOK
	}

	res, err := host.Write(path, *name, server, nil)
	if err != nil {
		inv.errorf("%v", err)
		return exitFailed
	}
	switch {
	case !res.Changed:
		// The host reads the same entry as before, so it needs no restart.
		inv.printf("%s already has server %q with this entry in %s; nothing to do.\n", host.Title, *name, res.Path)
		return exitOK
	case res.Created:
		inv.printf("Created %s with server %q.\n", res.Path, *name)
	default:
		inv.printf("Added server %q to %s (the previous file is saved as %s).\n", *name, res.Path, res.Backup)
	}
	inv.printf("Now %s, then ask it, for example: \"Use the %s tools to send my JoAi agent the message hello\".\n", host.Restart, *name)
	return exitOK
}

// serverEntry returns the entry that starts this bridge for t: its
// absolute path, the agent, and the variables the bridge needs in the small
// environment hosts give their servers.
func (inv *invocation) serverEntry(t *target, command string) (hostconfig.Server, error) {
	exe, err := inv.bridgePath(command)
	if err != nil {
		return hostconfig.Server{}, err
	}
	s := hostconfig.Server{Command: exe, Args: []string{"--agent", t.agent}, Env: map[string]string{}}
	if t.tokenFile != "" {
		abs, err := filepath.Abs(t.tokenFile)
		if err != nil {
			return s, err
		}
		s.Args = append(s.Args, "--token-file", abs)
	}
	if t.tokenCommand != "" {
		s.Args = append(s.Args, "--token-command", t.tokenCommand)
	}
	if t.caFile != "" {
		abs, err := filepath.Abs(t.caFile)
		if err != nil {
			return s, err
		}
		s.Args = append(s.Args, "--ca-file", abs)
	}
	if t.baseURL != DefaultBaseURL {
		s.Env[envBaseURL] = t.baseURL
	}
	// The host passes little more than HOME, so the bridge it starts would
	// look for the fallback token file under ~/.config, not here.
	if x := inv.getenv("XDG_CONFIG_HOME"); x != "" && inv.os() != "windows" && inv.os() != "darwin" {
		s.Env["XDG_CONFIG_HOME"] = x
	}
	if v := inv.getenv(envKeychain); v != "" {
		s.Env[envKeychain] = v
	}
	if inv.getenv(envToken) != "" {
		fmt.Fprintf(inv.stderr, "Note: %s is set here, but the entry does not carry it, so that no token is written to the host's file; the bridge the host starts reads the stored token.\n", envToken)
	}
	return s, nil
}

// bridgePath returns the absolute path of the bridge executable, with
// symbolic links resolved. It rejects the temporary binary of go run,
// which is deleted when go run exits.
func (inv *invocation) bridgePath(command string) (string, error) {
	exe := command
	if exe == "" {
		executable := os.Executable
		if inv.executable != nil {
			executable = inv.executable
		}
		var err error
		if exe, err = executable(); err != nil {
			return "", fmt.Errorf("finding this program's path: %w; pass --command PATH", err)
		}
		if strings.Contains(filepath.ToSlash(exe), "/go-build") {
			return "", fmt.Errorf("this joai-bridge was built by go run in a temporary directory that is deleted when it exits: install it with go install ./cmd/joai-bridge and run the installed joai-bridge config, or pass --command PATH")
		}
	}
	abs, err := filepath.Abs(exe)
	if err != nil {
		return "", err
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	} else if command != "" {
		return "", fmt.Errorf("--command %s: %w", command, err)
	}
	return abs, nil
}

// warnNoStoredToken warns when the bridge a host starts would find no
// token for t.
func (inv *invocation) warnNoStoredToken(t *target) {
	if t.tokenFile != "" || t.tokenCommand != "" {
		return
	}
	store, err := inv.store()
	if err != nil {
		return
	}
	if _, _, err := store.Load(t.endpoint()); errors.Is(err, credentials.ErrNotFound) {
		fmt.Fprintf(inv.stderr, "Note: no token is stored for %s yet: run joai-bridge login --agent %s before starting the host.\n", t.endpoint(), t.agent)
	}
}
