package credentials

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// FallbackFileName is the name of the fallback file inside a [Store]'s
// directory.
const FallbackFileName = "tokens.json"

// maxFallbackFileSize bounds what [Store] reads from its fallback file, so a
// wrong file put there cannot exhaust memory.
const maxFallbackFileSize = 1 << 20

// StoreOptions configures a [Store].
type StoreOptions struct {
	// Keyring is the OS keychain. Nil means [SystemKeyring]; tests pass a fake
	// or a [NoKeyring] so that they never touch the real keychain.
	Keyring Keyring
	// Dir is the directory of the fallback file, created with mode 0700 when
	// a token is first saved there. Empty means "joai-bridge" under
	// [os.UserConfigDir].
	Dir string
	// GOOS names the operating system in messages. Empty means
	// [runtime.GOOS].
	GOOS string
	// Logger receives debug messages about keychain failures; nil discards
	// them. Tokens are never logged.
	Logger *slog.Logger
}

// Store keeps API tokens in the OS keychain, or in a fallback file of mode
// 0600 when there is no usable keychain. Tokens are keyed by account, see
// [Account]. A Store may be used from several goroutines, but two processes
// saving at the same moment may lose one of the two writes to the fallback
// file.
type Store struct {
	keyring Keyring
	dir     string
	goos    string
	logger  *slog.Logger
}

// NewStore returns a Store. It fails only when opts.Dir is empty and the
// user configuration directory is unknown (no HOME, for example).
func NewStore(opts *StoreOptions) (*Store, error) {
	if opts == nil {
		opts = &StoreOptions{}
	}
	s := &Store{keyring: opts.Keyring, dir: opts.Dir, goos: opts.GOOS, logger: opts.Logger}
	if s.keyring == nil {
		s.keyring = SystemKeyring()
	}
	if s.goos == "" {
		s.goos = runtime.GOOS
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return nil, fmt.Errorf("finding the directory for the fallback token file: %w", err)
		}
		s.dir = filepath.Join(base, "joai-bridge")
	}
	return s, nil
}

// Account returns the keychain account of the token for agent at the agent
// endpoint base URL, for example
// "https://cortex.joai.ai/mcp/agents/0b7e…". Tokens are scoped to a team and
// agent pair, so each agent has its own.
func Account(baseURL, agent string) string {
	return strings.TrimRight(baseURL, "/") + "/mcp/agents/" + agent
}

// Location is the place a [Store] keeps a token in: the keychain or the
// fallback file.
type Location struct {
	// Keychain is true for the OS keychain and false for the fallback file.
	Keychain bool
	// Name is the keychain's name or the fallback file's path, for messages.
	Name string
}

// String returns a description for messages, such as "the macOS Keychain"
// or "the file /home/a/.config/joai-bridge/tokens.json".
func (l Location) String() string {
	if l.Keychain {
		return l.Name
	}
	return "the file " + l.Name
}

// Saved is the outcome of [Store.Save].
type Saved struct {
	// Location is the place the token was stored.
	Location Location
	// KeychainError is the reason the keychain was not used when the token
	// went to the fallback file, and nil otherwise.
	KeychainError error
}

// FallbackPath returns the path of the fallback file.
func (s *Store) FallbackPath() string {
	return filepath.Join(s.dir, FallbackFileName)
}

func (s *Store) keychainLocation() Location {
	return Location{Keychain: true, Name: KeyringName(s.goos)}
}

func (s *Store) fileLocation() Location {
	return Location{Name: s.FallbackPath()}
}

// Save stores tok for account in the keychain, or in the fallback file when
// the keychain is unavailable. After a save to the keychain, an older copy
// in the fallback file is removed. It rejects a malformed token with the
// error of [Check].
func (s *Store) Save(account, tok string) (Saved, error) {
	if err := Check(tok); err != nil {
		return Saved{}, err
	}
	kerr := s.keyring.Set(Service, account, tok)
	if kerr == nil {
		if _, err := s.deleteFromFile(account); err != nil {
			return Saved{}, fmt.Errorf("token saved in %s, but removing the older copy from %s: %w", s.keychainLocation(), s.fileLocation(), err)
		}
		return Saved{Location: s.keychainLocation()}, nil
	}
	s.logger.Debug("keychain not used", "error", kerr)

	if err := s.writeToFile(account, tok); err != nil {
		return Saved{}, err
	}
	return Saved{Location: s.fileLocation(), KeychainError: kerr}, nil
}

// Load returns the token for account and where it was found: the keychain
// first, then the fallback file. It returns an error wrapping [ErrNotFound]
// when neither has one.
func (s *Store) Load(account string) (string, Location, error) {
	tok, loc, err := s.LoadKeychain(account)
	if err == nil {
		return tok, loc, nil
	}
	if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrKeyringUnavailable) {
		return "", loc, err
	}
	return s.LoadFile(account)
}

// LoadKeychain returns the token for account from the keychain only.
func (s *Store) LoadKeychain(account string) (string, Location, error) {
	loc := s.keychainLocation()
	tok, err := s.keyring.Get(Service, account)
	if err != nil {
		s.logger.Debug("no token from keychain", "error", err)
		return "", loc, err
	}
	return tok, loc, nil
}

// LoadFile returns the token for account from the fallback file only. It
// rejects a file that other users can read or write, as ssh does with keys.
func (s *Store) LoadFile(account string) (string, Location, error) {
	loc := s.fileLocation()
	tokens, err := s.readFile()
	if err != nil {
		return "", loc, err
	}
	tok, ok := tokens[account]
	if !ok {
		return "", loc, fmt.Errorf("%w for %s in %s", ErrNotFound, account, loc)
	}
	return tok, loc, nil
}

// Delete removes the token for account from the keychain and from the
// fallback file, and returns the places it was removed from. It is not an
// error when there was nothing to remove.
func (s *Store) Delete(account string) ([]Location, error) {
	var removed []Location
	err := s.keyring.Delete(Service, account)
	switch {
	case err == nil:
		removed = append(removed, s.keychainLocation())
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrKeyringUnavailable):
		s.logger.Debug("nothing removed from keychain", "error", err)
	default:
		return nil, fmt.Errorf("removing the token from %s: %w", s.keychainLocation(), err)
	}

	ok, err := s.deleteFromFile(account)
	if err != nil {
		return removed, err
	}
	if ok {
		removed = append(removed, s.fileLocation())
	}
	return removed, nil
}

// fallbackFile is the JSON form of the fallback file.
type fallbackFile struct {
	// Tokens maps an account to its token.
	Tokens map[string]string `json:"tokens"`
}

// readFile returns the tokens in the fallback file, an empty map when the
// file does not exist.
func (s *Store) readFile() (map[string]string, error) {
	path := s.FallbackPath()
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the token file: %w", err)
	}
	defer f.Close()

	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading the token file: %w", err)
	}
	if err := s.checkMode(path, info); err != nil {
		return nil, err
	}
	if info.Size() > maxFallbackFileSize {
		return nil, fmt.Errorf("the token file %s is %d bytes, more than a token file can be: move it away and run joai-bridge login again", path, info.Size())
	}
	data := make([]byte, info.Size())
	if _, err := f.ReadAt(data, 0); err != nil && info.Size() > 0 {
		return nil, fmt.Errorf("reading the token file %s: %w", path, err)
	}

	var ff fallbackFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ff); err != nil {
		return nil, fmt.Errorf("the token file %s is not valid (%v): move it away and run joai-bridge login again", path, err)
	}
	if ff.Tokens == nil {
		ff.Tokens = map[string]string{}
	}
	return ff.Tokens, nil
}

// checkMode rejects a fallback file that is not private to its owner. Mode
// bits mean nothing on Windows, where the file inherits the ACL of the
// user's profile directory.
func (s *Store) checkMode(path string, info fs.FileInfo) error {
	if s.goos == "windows" || runtime.GOOS == "windows" {
		return nil
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("the token file %s can be read or written by other users (mode %04o): run chmod 600 %s, and revoke the token if others may have copied it", path, perm, path)
	}
	return nil
}

// writeToFile puts tok for account into the fallback file, replacing the
// file atomically so that a crash leaves either the old or the new file.
func (s *Store) writeToFile(account, tok string) error {
	tokens, err := s.readFile()
	if err != nil {
		return err
	}
	tokens[account] = tok
	return s.replaceFile(tokens)
}

// deleteFromFile removes account from the fallback file and reports whether
// it was there. The file itself is removed when no token is left.
func (s *Store) deleteFromFile(account string) (bool, error) {
	tokens, err := s.readFile()
	if err != nil {
		return false, err
	}
	if _, ok := tokens[account]; !ok {
		return false, nil
	}
	delete(tokens, account)
	if len(tokens) == 0 {
		if err := os.Remove(s.FallbackPath()); err != nil {
			return false, fmt.Errorf("removing the token file: %w", err)
		}
		return true, nil
	}
	return true, s.replaceFile(tokens)
}

// replaceFile writes tokens to a temporary file of mode 0600 in a directory
// of mode 0700, then renames it over the fallback file.
func (s *Store) replaceFile(tokens map[string]string) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("creating the token directory: %w", err)
	}
	// MkdirAll keeps the mode of a directory that already exists, and the
	// umask may have widened a new one.
	if err := os.Chmod(s.dir, 0o700); err != nil {
		return fmt.Errorf("making the token directory private: %w", err)
	}

	data, err := json.MarshalIndent(fallbackFile{Tokens: tokens}, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')

	tmp, err := os.CreateTemp(s.dir, ".tokens-*.json")
	if err != nil {
		return fmt.Errorf("writing the token file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the token file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the token file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the token file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the token file: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.FallbackPath()); err != nil {
		return fmt.Errorf("writing the token file: %w", err)
	}
	return nil
}
