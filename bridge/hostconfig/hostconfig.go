// Package hostconfig writes the entry that makes a desktop MCP client launch
// the bridge: Claude Desktop, Cursor, VS Code and Claude Code. Each host
// keeps its stdio servers in a JSON file at a fixed place; a merge changes
// only the bridge's entry and keeps the rest of the file byte for byte.
//
//	host, err := hostconfig.Lookup("claude")
//	if err != nil { ... }
//	dirs, err := hostconfig.DirsFromEnv(runtime.GOOS, os.Getenv)
//	if err != nil { ... }
//	server := hostconfig.Server{Command: "/usr/local/bin/joai-bridge", Args: []string{"--agent", uuid}}
//	res, err := host.Write(host.Path(dirs), "joai", server, nil)
package hostconfig

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Host is a desktop MCP client whose configuration file can hold the
// bridge.
type Host struct {
	// Name is the name used on the command line: "claude", "cursor",
	// "vscode" or "claude-code".
	Name string
	// Title is the product name, such as "Claude Desktop".
	Title string
	// Key is the top-level member that maps server names to entries:
	// "mcpServers", or "servers" for VS Code.
	Key string
	// TypeStdio reports whether each entry carries "type": "stdio".
	TypeStdio bool
	// JSONC reports whether the file may contain comments and trailing
	// commas, as VS Code's files may.
	JSONC bool
	// Restart says how to make the host read the changed file.
	Restart string

	path func(Dirs) string
}

// hosts are the supported hosts. The file locations and shapes follow each
// vendor's documentation: Claude Desktop's claude_desktop_config.json,
// Cursor's global ~/.cursor/mcp.json, the mcp.json of VS Code's default
// user profile, and the user-scope "mcpServers" of Claude Code's
// ~/.claude.json.
var hosts = []Host{
	{
		Name: "claude", Title: "Claude Desktop", Key: "mcpServers",
		Restart: "quit Claude Desktop completely (from the menu bar or the tray, not by closing the window) and start it again",
		path: func(d Dirs) string {
			return d.join(d.Config, "Claude", "claude_desktop_config.json")
		},
	},
	{
		Name: "cursor", Title: "Cursor", Key: "mcpServers",
		Restart: "restart Cursor, or open Cursor Settings > MCP and refresh the server",
		path: func(d Dirs) string {
			return d.join(d.Home, ".cursor", "mcp.json")
		},
	},
	{
		Name: "vscode", Title: "VS Code", Key: "servers", TypeStdio: true, JSONC: true,
		Restart: "run \"MCP: List Servers\" from the Command Palette and start the server, or reload the window",
		path: func(d Dirs) string {
			return d.join(d.Config, "Code", "User", "mcp.json")
		},
	},
	{
		Name: "claude-code", Title: "Claude Code", Key: "mcpServers", TypeStdio: true,
		Restart: "start a new Claude Code session; /mcp shows the server",
		path: func(d Dirs) string {
			return d.join(d.Home, ".claude.json")
		},
	},
}

// Hosts returns the supported hosts.
func Hosts() []Host {
	return append([]Host(nil), hosts...)
}

// Lookup returns the host called name. The error lists the known names.
func Lookup(name string) (Host, error) {
	var names []string
	for _, h := range hosts {
		if h.Name == name {
			return h, nil
		}
		names = append(names, h.Name)
	}
	return Host{}, fmt.Errorf("unknown host %q: use one of %s", name, strings.Join(names, ", "))
}

// Path returns the host's configuration file in dirs.
func (h Host) Path(dirs Dirs) string {
	return h.path(dirs)
}

// Dirs are the directories the host files live in, for one user on one
// operating system.
type Dirs struct {
	// GOOS is the operating system, as in runtime.GOOS.
	GOOS string
	// Home is the user's home directory.
	Home string
	// Config is the user configuration directory, as os.UserConfigDir
	// returns it.
	Config string
}

// DirsFromEnv returns the directories of the user whose environment getenv
// reads, following the rules of os.UserHomeDir and os.UserConfigDir for
// goos. It fails when a variable they need is unset.
func DirsFromEnv(goos string, getenv func(string) string) (Dirs, error) {
	d := Dirs{GOOS: goos}
	switch goos {
	case "windows":
		d.Home, d.Config = getenv("USERPROFILE"), getenv("APPDATA")
		if d.Home == "" {
			return d, fmt.Errorf("USERPROFILE is not set: set it to your profile directory, such as C:\\Users\\you")
		}
		if d.Config == "" {
			return d, fmt.Errorf("APPDATA is not set: set it to your roaming application data directory, such as C:\\Users\\you\\AppData\\Roaming")
		}
		return d, nil
	case "plan9":
		d.Home = getenv("home")
	default:
		d.Home = getenv("HOME")
	}
	if d.Home == "" {
		return d, fmt.Errorf("HOME is not set: set it to your home directory")
	}
	switch goos {
	case "darwin", "ios":
		d.Config = d.join(d.Home, "Library", "Application Support")
	case "plan9":
		d.Config = d.join(d.Home, "lib")
	default:
		// os.UserConfigDir ignores a relative XDG_CONFIG_HOME.
		if x := getenv("XDG_CONFIG_HOME"); strings.HasPrefix(x, "/") {
			d.Config = x
		} else {
			d.Config = d.join(d.Home, ".config")
		}
	}
	return d, nil
}

// join joins path elements with the separator of d.GOOS, which need not be
// the operating system the program runs on.
func (d Dirs) join(elem ...string) string {
	if d.GOOS != "windows" {
		return path.Join(elem...)
	}
	for i := range elem {
		elem[i] = strings.ReplaceAll(elem[i], `\`, "/")
	}
	return strings.ReplaceAll(path.Join(elem...), "/", `\`)
}

// Server is the stdio server to add: the bridge's absolute path, its
// arguments, and extra environment variables. It must never carry a token;
// the bridge reads its token from the keychain or the token file.
type Server struct {
	Command string
	Args    []string
	// Env is added to the small environment the host passes to its
	// servers. Nil or empty adds nothing.
	Env map[string]string
}

// namePattern is the set of server names accepted: hosts use the name in
// tool names (Claude Code: mcp__<name>__<tool>), where other characters
// cause trouble.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// CheckName returns an error unless name can name a server in every host.
func CheckName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("invalid server name %q: use 1 to 64 letters, digits, - or _, starting with a letter or digit", name)
	}
	return nil
}
