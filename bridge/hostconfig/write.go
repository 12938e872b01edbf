package hostconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// maxConfigSize bounds the configuration file read. Claude Code's
// ~/.claude.json grows with its history, so the bound is generous.
const maxConfigSize = 64 << 20

// WriteOptions configures [Host.Write].
type WriteOptions struct {
	// Now returns the time used in the backup's name. Nil means time.Now.
	Now func() time.Time
}

// WriteResult is the outcome of [Host.Write].
type WriteResult struct {
	// Path is the file that was written or left alone, with symbolic links
	// resolved.
	Path string
	// Changed reports whether the file was written. It is false when the
	// entry was already up to date.
	Changed bool
	// Created reports whether the file did not exist before.
	Created bool
	// Backup is the copy of the previous file, or empty when nothing was
	// overwritten.
	Backup string
}

// Write merges the server into the host's configuration file at path, as
// [Host.Merge] does. When the file changes, the previous file is first
// copied to "<path>.<time>.bak", and the new one replaces it atomically, so
// the host never reads half a file. A file that cannot be parsed is left
// untouched, and the [*SyntaxError] names it. If the file changes while
// Write runs (the host saving its own settings), Write stops without
// writing and says so.
func (h Host) Write(path, name string, s Server, opts *WriteOptions) (WriteResult, error) {
	now := time.Now
	if opts != nil && opts.Now != nil {
		now = opts.Now
	}
	res := WriteResult{Path: path}

	// A symbolic link, as dotfile managers make, stays in place and its
	// target is updated.
	if target, err := filepath.EvalSymlinks(path); err == nil {
		res.Path = target
	}
	old, mode, err := readConfig(res.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		res.Created, mode = true, 0o600
	case err != nil:
		return res, err
	}

	out, changed, err := h.Merge(old, name, s)
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			se.File = res.Path
			return res, fmt.Errorf("%w; the file was not changed: fix it (or move it away), then run again", se)
		}
		return res, fmt.Errorf("%s: %w; the file was not changed", res.Path, err)
	}
	if !changed {
		return res, nil
	}

	if err := os.MkdirAll(filepath.Dir(res.Path), 0o700); err != nil {
		return res, fmt.Errorf("creating the directory of %s: %w", res.Path, err)
	}
	if !res.Created {
		backup, err := writeBackup(res.Path, old, mode, now())
		if err != nil {
			return res, err
		}
		res.Backup = backup
	}
	if err := replaceFile(res.Path, out, mode, old, res.Created); err != nil {
		return res, err
	}
	res.Changed = true
	return res, nil
}

// readConfig returns the file's content and permission bits.
func readConfig(path string) ([]byte, fs.FileMode, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	if !info.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s is not a regular file", path)
	}
	if info.Size() > maxConfigSize {
		return nil, 0, fmt.Errorf("%s is %d bytes, more than the %d this command reads: add the entry by hand", path, info.Size(), maxConfigSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	return data, info.Mode().Perm(), nil
}

// writeBackup copies data to a new file beside path whose name carries the
// time, and returns that name.
func writeBackup(path string, data []byte, mode fs.FileMode, t time.Time) (string, error) {
	stamp := t.UTC().Format("20060102T150405Z")
	for i := 0; i < 100; i++ {
		name := fmt.Sprintf("%s.%s.bak", path, stamp)
		if i > 0 {
			name = fmt.Sprintf("%s.%s-%d.bak", path, stamp, i)
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("writing the backup of %s: %w", path, err)
		}
		_, werr := f.Write(data)
		cerr := f.Close()
		if werr != nil || cerr != nil {
			os.Remove(name)
			return "", fmt.Errorf("writing the backup %s: %w", name, errors.Join(werr, cerr))
		}
		return name, nil
	}
	return "", fmt.Errorf("writing the backup of %s: too many backups named %s.%s*.bak", path, path, stamp)
}

// replaceFile writes data to a temporary file beside path and renames it
// over path. Just before the rename it checks that path still holds old, so
// a concurrent save by the host is not lost.
func replaceFile(path string, data []byte, mode fs.FileMode, old []byte, created bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())

	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}

	now, err := os.ReadFile(path)
	switch {
	case created && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s was created by another program while this one was writing it: run again", path)
	case !created && (err != nil || !bytes.Equal(now, old)):
		return fmt.Errorf("%s changed while this program was updating it (is the host saving its settings?): run again", path)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
