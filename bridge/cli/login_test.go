package cli

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/joai-ai/joai-mcp/bridge/credentials"
)

func TestLoginFallbackFile(t *testing.T) {
	h := newHarness(t)
	stdout, _ := h.mustRun(exitOK, h.info.Token+"\n", "login", "--mock-url", h.mock.URL, "--agent", h.info.AgentUUID)

	for _, want := range []string{"works", "3 tools (prompt_agent, create_memory, update_memory)", "No usable keychain (keychain unavailable: no Secret Service in this test)", h.fallbackFile(), "mode 0600"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("login output lacks %q:\n%s", want, stdout)
		}
	}
	if runtime.GOOS != "windows" {
		for path, want := range map[string]os.FileMode{h.fallbackFile(): 0o600, filepath.Dir(h.fallbackFile()): 0o700} {
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Mode().Perm(); got != want {
				t.Errorf("mode of %s = %04o, want %04o", path, got, want)
			}
		}
	}
	store, err := credentials.NewStore(&credentials.StoreOptions{Keyring: h.keyring, Dir: filepath.Dir(h.fallbackFile())})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := store.Load(credentials.Account(h.mock.URL, h.info.AgentUUID))
	if err != nil || tok != h.info.Token {
		t.Errorf("stored token is not the one logged in with (err %v)", err)
	}
}

func TestLoginKeychain(t *testing.T) {
	h := newHarness(t)
	k := newFakeKeyring()
	h.keyring = k
	stdout, _ := h.mustRun(exitOK, h.info.Token, "login", "--mock-url", h.mock.URL, "--agent", h.info.AgentUUID)
	if !strings.Contains(stdout, "stored in the Secret Service keyring (service joai-bridge") {
		t.Errorf("login output does not name the keychain:\n%s", stdout)
	}
	if got, _ := k.Get(credentials.Service, credentials.Account(h.mock.URL, h.info.AgentUUID)); got != h.info.Token {
		t.Errorf("the keychain does not hold the token")
	}
	if _, err := os.Stat(h.fallbackFile()); !os.IsNotExist(err) {
		t.Errorf("the fallback file exists although the keychain was used: %v", err)
	}
}

func TestLoginRejects(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name, stdin string
		args        []string
		code        int
		want        string
	}{
		{"revoked-token", h.info.RevokedToken + "\n", nil, exitFailed, "HTTP 401 Unauthorized: unauthorized (Invalid or expired token)"},
		{"bearer-prefix", "Bearer " + h.info.Token + "\n", nil, exitFailed, `the token starts with "Bearer "`},
		{"quoted", `"` + h.info.Token + `"` + "\n", nil, exitFailed, "contains a quote character at character 1"},
		{"trailing-space", h.info.Token + " \n", nil, exitFailed, "the token ends with a space"},
		{"two-lines", h.info.Token + "\n" + h.info.Token + "\n", nil, exitFailed, "more than one line"},
		{"empty", "", nil, exitFailed, "no token on standard input"},
		{"token-as-argument", "", []string{h.info.Token}, exitUsage, "never the token on the command line"},
		{"unknown-agent", h.info.Token + "\n", []string{"--agent", "00000000-0000-4000-8000-000000000000"}, exitFailed, "HTTP 404"},
		{"malformed-agent", h.info.Token + "\n", []string{"--agent", "ada"}, exitUsage, `agent "ada" is not a UUID`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"login", "--mock-url", h.mock.URL}, tt.args...)
			if tt.name != "unknown-agent" && tt.name != "malformed-agent" {
				args = append(args, "--agent", h.info.AgentUUID)
			}
			_, stderr := h.mustRun(tt.code, tt.stdin, args...)
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, stderr)
			}
			if _, err := os.Stat(h.fallbackFile()); !os.IsNotExist(err) {
				t.Errorf("a rejected login stored a token")
			}
		})
	}
}

func TestLoginPicksOnlyAgentOrAsks(t *testing.T) {
	h := newHarness(t)
	// The Northwind team has two agents, so login must ask which.
	_, stderr := h.mustRun(exitFailed, h.info.Token+"\n", "login", "--mock-url", h.mock.URL)
	for _, want := range []string{"has 2 agents", "--agent UUID", h.info.AgentUUID, "Babbage"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestLogout(t *testing.T) {
	h := newHarness(t)
	h.login()
	stdout, _ := h.mustRun(exitOK, "", "logout", "--mock-url", h.mock.URL)
	if !strings.Contains(stdout, "Removed the token for "+h.mock.URL+"/mcp/agents/"+h.info.AgentUUID+" from the file "+h.fallbackFile()) {
		t.Errorf("logout output:\n%s", stdout)
	}
	if _, err := os.Stat(h.fallbackFile()); !os.IsNotExist(err) {
		t.Errorf("the fallback file remains after logout: %v", err)
	}
	// The default agent went with the token.
	_, stderr := h.mustRun(exitUsage, "", "logout", "--mock-url", h.mock.URL)
	if !strings.Contains(stderr, "no agent given") {
		t.Errorf("second logout stderr:\n%s", stderr)
	}
	stdout, _ = h.mustRun(exitOK, "", "logout", "--mock-url", h.mock.URL, "--agent", h.info.AgentUUID)
	if !strings.Contains(stdout, "No token was stored") {
		t.Errorf("logout without a token:\n%s", stdout)
	}
}

func TestStatus(t *testing.T) {
	h := newHarness(t)
	_, stderr := h.mustRun(exitFailed, "", "status", "--mock-url", h.mock.URL, "--agent", h.info.AgentUUID)
	if !strings.Contains(stderr, "no token stored") || !strings.Contains(stderr, "joai-bridge login") {
		t.Errorf("status before login stderr:\n%s", stderr)
	}

	h.login()
	stdout, _ := h.mustRun(exitOK, "", "status", "--mock-url", h.mock.URL)
	last4 := h.info.Token[len(h.info.Token)-4:]
	if !strings.Contains(stdout, "…"+last4+", from the file "+h.fallbackFile()) {
		t.Errorf("status output lacks the source and last four characters:\n%s", stdout)
	}

	h.env["JOAI_API_TOKEN"] = h.info.OtherTeamToken
	stdout, _ = h.mustRun(exitOK, "", "status", "--mock-url", h.mock.URL)
	if !strings.Contains(stdout, "from JOAI_API_TOKEN") || !strings.Contains(stdout, "not used while JOAI_API_TOKEN is set") {
		t.Errorf("status with JOAI_API_TOKEN set:\n%s", stdout)
	}
}

// fakeKeyring is an in-memory keychain; tests never touch the real one.
type fakeKeyring struct{ secrets map[string]string }

func newFakeKeyring() *fakeKeyring { return &fakeKeyring{secrets: map[string]string{}} }

func (k *fakeKeyring) Get(service, account string) (string, error) {
	s, ok := k.secrets[service+" "+account]
	if !ok {
		return "", credentials.ErrNotFound
	}
	return s, nil
}

func (k *fakeKeyring) Set(service, account, secret string) error {
	k.secrets[service+" "+account] = secret
	return nil
}

func (k *fakeKeyring) Delete(service, account string) error {
	if _, ok := k.secrets[service+" "+account]; !ok {
		return credentials.ErrNotFound
	}
	delete(k.secrets, service+" "+account)
	return nil
}

func TestLoginWithoutAgentAsksDiscovery(t *testing.T) {
	h := newHarness(t)
	h.login() // Ada's agent becomes the default for the mock's URL

	// The other team's token opens only its own agent, which discovery
	// returns; the stored default would fail the quick test with 404.
	stdout, _ := h.mustRun(exitOK, h.info.OtherTeamToken+"\n", "login", "--mock-url", h.mock.URL)
	if want := "Using the team's only agent"; !strings.Contains(stdout, want) || !strings.Contains(stdout, h.info.OtherAgentUUID) {
		t.Errorf("login output = %q, want %q and agent %s", stdout, want, h.info.OtherAgentUUID)
	}
	if want := "Agent " + h.info.OtherAgentUUID + " is now the default"; !strings.Contains(stdout, want) {
		t.Errorf("login output = %q, want %q", stdout, want)
	}
}
