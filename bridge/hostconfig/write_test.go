package hostconfig

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

var fixedNow = func() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC) }

const existingConfig = `{
  "mcpServers": {
    "filesystem": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]
    },
    "github": {"command": "docker", "env": {"GITHUB_TOKEN": "kept-as-is"}}
  },
  "preferences": {"sidebar": false}
}
`

func writeConfig(t testing.TB, data string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "Claude", "claude_desktop_config.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func readString(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteMergesWithBackup(t *testing.T) {
	path := writeConfig(t, existingConfig, 0o640)
	h := mustHost(t, "claude")

	res, err := h.Write(path, "joai", testServer, &WriteOptions{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Created {
		t.Errorf("Write = %+v, want Changed and not Created", res)
	}
	wantBackup := path + ".20260304T050607Z.bak"
	if res.Backup != wantBackup {
		t.Errorf("Backup = %q, want %q", res.Backup, wantBackup)
	}
	if got := readString(t, wantBackup); got != existingConfig {
		t.Errorf("backup content = %q, want the previous file", got)
	}
	got := readString(t, path)
	for _, keep := range []string{`"filesystem": {`, `"GITHUB_TOKEN": "kept-as-is"`, `"preferences": {"sidebar": false}`, `"joai": {`, `"/opt/bin/joai-bridge"`} {
		if !strings.Contains(got, keep) {
			t.Errorf("written file lacks %s:\n%s", keep, got)
		}
	}
	if runtime.GOOS != "windows" {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o640 {
			t.Errorf("mode after Write = %04o, want the previous 0640", info.Mode().Perm())
		}
	}

	// A second run finds the entry up to date: no write, no new backup.
	res, err = h.Write(path, "joai", testServer, &WriteOptions{Now: func() time.Time { return fixedNow().Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed || res.Backup != "" {
		t.Errorf("second Write = %+v, want no change and no backup", res)
	}
	if again := readString(t, path); again != got {
		t.Errorf("second Write changed the file")
	}
	backups, _ := filepath.Glob(path + ".*.bak")
	if len(backups) != 1 {
		t.Errorf("backups = %v, want one", backups)
	}
}

func TestWriteBackupNamesDoNotCollide(t *testing.T) {
	path := writeConfig(t, existingConfig, 0o600)
	h := mustHost(t, "claude")
	if _, err := h.Write(path, "joai", testServer, &WriteOptions{Now: fixedNow}); err != nil {
		t.Fatal(err)
	}
	res, err := h.Write(path, "joai", Server{Command: "/new/joai-bridge"}, &WriteOptions{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if want := path + ".20260304T050607Z-1.bak"; res.Backup != want {
		t.Errorf("second Backup = %q, want %q", res.Backup, want)
	}
}

func TestWriteRejectsUnparsableFile(t *testing.T) {
	broken := "{\n  \"mcpServers\": {\n    \"filesystem\": {\"command\": \"npx\"\n  }\n"
	path := writeConfig(t, broken, 0o600)
	_, err := mustHost(t, "claude").Write(path, "joai", testServer, &WriteOptions{Now: fixedNow})
	if err == nil {
		t.Fatal("Write over an unparsable file succeeded")
	}
	for _, want := range []string{path + ":5:1:", "unexpected end of file", "was not changed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Write error %q does not contain %q", err, want)
		}
	}
	if got := readString(t, path); got != broken {
		t.Errorf("Write changed the unparsable file")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory has %d entries, want only the untouched file (no backup, no temporary file)", len(entries))
	}
}

func TestWriteCreatesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".cursor", "mcp.json")
	res, err := mustHost(t, "cursor").Write(path, "joai", testServer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || !res.Changed || res.Backup != "" {
		t.Errorf("Write = %+v, want Created and Changed without a backup", res)
	}
	snippet, _ := mustHost(t, "cursor").Snippet("joai", testServer)
	if got := readString(t, path); got != string(snippet) {
		t.Errorf("new file = %q, want the snippet %q", got, snippet)
	}
	if runtime.GOOS != "windows" {
		info, _ := os.Stat(path)
		if info.Mode().Perm() != 0o600 {
			t.Errorf("new file mode = %04o, want 0600", info.Mode().Perm())
		}
	}
}

func TestWriteFollowsSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	target := writeConfig(t, existingConfig, 0o600)
	link := filepath.Join(t.TempDir(), "mcp.json")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	res, err := mustHost(t, "claude").Write(link, "joai", testServer, &WriteOptions{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if res.Path != target {
		t.Errorf("Path = %q, want the link's target %q", res.Path, target)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symbolic link was replaced: %v", err)
	}
	if !strings.Contains(readString(t, target), `"joai"`) {
		t.Errorf("the link's target was not updated")
	}
}

func TestWriteConflictLeavesFile(t *testing.T) {
	in := `{"mcpServers": {"joai": {"command": "npx"}}}`
	path := writeConfig(t, in, 0o600)
	if _, err := mustHost(t, "claude").Write(path, "joai", testServer, nil); err == nil {
		t.Fatal("Write replaced a foreign server")
	}
	if readString(t, path) != in {
		t.Errorf("Write changed the file")
	}
}
