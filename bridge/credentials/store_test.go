package credentials

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/joai-ai/joai-mcp/internal/redact"
)

const testAccount = "http://127.0.0.1:1/mcp/agents/0b7e2c9a-1111-4222-8333-944455556666"

func newTestStore(t testing.TB, k Keyring) *Store {
	t.Helper()
	s, err := NewStore(&StoreOptions{Keyring: k, Dir: filepath.Join(t.TempDir(), "joai-bridge")})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAccount(t *testing.T) {
	got := Account("https://cortex.joai.ai/", "abc")
	if want := "https://cortex.joai.ai/mcp/agents/abc"; got != want {
		t.Errorf("Account = %q, want %q", got, want)
	}
}

func TestStoreFallbackFile(t *testing.T) {
	s := newTestStore(t, NoKeyring("no keychain in this test"))

	saved, err := s.Save(testAccount, goodToken)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Location.Keychain {
		t.Errorf("Save went to the keychain, want the fallback file")
	}
	if saved.Location.Name != s.FallbackPath() {
		t.Errorf("Save location = %q, want %q", saved.Location.Name, s.FallbackPath())
	}
	if !errors.Is(saved.KeychainError, ErrKeyringUnavailable) || !strings.Contains(saved.KeychainError.Error(), "no keychain in this test") {
		t.Errorf("Save KeychainError = %v, want the keychain's reason", saved.KeychainError)
	}
	if runtime.GOOS != "windows" {
		assertMode(t, s.FallbackPath(), 0o600)
		assertMode(t, filepath.Dir(s.FallbackPath()), 0o700)
	}

	tok, loc, err := s.Load(testAccount)
	if err != nil {
		t.Fatal(err)
	}
	if tok != goodToken || loc.Keychain {
		t.Errorf("Load = %q from %v, want the saved token from the file", redact.Token(tok), loc)
	}

	removed, err := s.Delete(testAccount)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0].Keychain {
		t.Errorf("Delete removed %v, want the file only", removed)
	}
	if _, err := os.Stat(s.FallbackPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("fallback file still exists after the last token was removed: %v", err)
	}
	if _, _, err := s.Load(testAccount); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load after Delete = %v, want ErrNotFound", err)
	}
}

func TestStoreWidensNoExistingDirectory(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits are not enforced on Windows")
	}
	s := newTestStore(t, NoKeyring(""))
	if err := os.MkdirAll(filepath.Dir(s.FallbackPath()), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(testAccount, goodToken); err != nil {
		t.Fatal(err)
	}
	assertMode(t, filepath.Dir(s.FallbackPath()), 0o700)
}

func TestStoreKeepsOtherAccounts(t *testing.T) {
	s := newTestStore(t, NoKeyring(""))
	other := testAccount + "-other"
	for _, acct := range []string{testAccount, other} {
		if _, err := s.Save(acct, goodToken+acct[len(acct)-2:]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Delete(testAccount); err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.Load(other)
	if err != nil {
		t.Fatal(err)
	}
	if want := goodToken + "er"; tok != want {
		t.Errorf("Load(other) = %s, want %s", redact.Token(tok), redact.Token(want))
	}
}

func TestStoreKeychain(t *testing.T) {
	k := newFakeKeyring()
	s := newTestStore(t, NoKeyring(""))

	// A token saved while the keychain was unavailable must not linger in
	// the file once the keychain holds the account's token.
	if _, err := s.Save(testAccount, goodToken+"old"); err != nil {
		t.Fatal(err)
	}
	s.keyring = k
	saved, err := s.Save(testAccount, goodToken)
	if err != nil {
		t.Fatal(err)
	}
	if !saved.Location.Keychain || saved.KeychainError != nil {
		t.Errorf("Save = %+v, want the keychain", saved)
	}
	if _, err := os.Stat(s.FallbackPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the older copy in the fallback file was not removed: %v", err)
	}

	tok, loc, err := s.Load(testAccount)
	if err != nil {
		t.Fatal(err)
	}
	if tok != goodToken || !loc.Keychain {
		t.Errorf("Load = %s from %v, want the token from the keychain", redact.Token(tok), loc)
	}

	removed, err := s.Delete(testAccount)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Location{{Keychain: true, Name: KeyringName(runtime.GOOS)}}, removed); diff != "" {
		t.Errorf("Delete removed (-want +got):\n%s", diff)
	}
}

func TestStoreRejectsMalformedToken(t *testing.T) {
	k := newFakeKeyring()
	s := newTestStore(t, k)
	_, err := s.Save(testAccount, "Bearer "+goodToken)
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("Save(Bearer …) = %v, want a *FormatError", err)
	}
	if k.sets != 0 {
		t.Errorf("Save wrote a malformed token to the keychain")
	}
}

func TestStoreRejectsOpenFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits are not enforced on Windows")
	}
	s := newTestStore(t, NoKeyring(""))
	if _, err := s.Save(testAccount, goodToken); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(s.FallbackPath(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.Load(testAccount)
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+s.FallbackPath()) {
		t.Fatalf("Load of a mode 0644 file = %v, want an error naming the chmod fix", err)
	}
}

func TestStoreRejectsBrokenFile(t *testing.T) {
	s := newTestStore(t, NoKeyring(""))
	if err := os.MkdirAll(filepath.Dir(s.FallbackPath()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.FallbackPath(), []byte(`{"tokens": {`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.Load(testAccount)
	if err == nil || !strings.Contains(err.Error(), s.FallbackPath()) || !strings.Contains(err.Error(), "login again") {
		t.Fatalf("Load of a broken file = %v, want an error naming the file and the fix", err)
	}
	if _, err := s.Save(testAccount, goodToken); err == nil {
		t.Errorf("Save over a broken file succeeded, want an error that leaves the file for the user")
	}
}

func assertMode(t testing.TB, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("mode of %s = %04o, want %04o", path, got, want)
	}
}
