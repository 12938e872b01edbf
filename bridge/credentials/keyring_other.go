//go:build !(linux || freebsd || netbsd || openbsd || dragonfly)

package credentials

// keyringMissing returns "": the macOS Keychain and the Windows Credential
// Manager are always there, and go-keyring reports its own error elsewhere.
func keyringMissing() string { return "" }
