//go:build unix

package cli

import (
	"io"
	"os"
	"syscall"
)

// pollable returns s as a file that Go's network poller serves, when s is
// a pipe, with a function that undoes the change. A goroutine reading it
// then parks without holding an OS thread in a system call, which saves a
// thread hand-off on every message. Anything else, a terminal in
// particular, whose mode the shell shares, is returned as it is.
func pollable(s any) (any, func()) {
	f, ok := s.(*os.File)
	if !ok {
		return s, func() {}
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return s, func() {}
	}

	conn, err := f.SyscallConn()
	if err != nil {
		return s, func() {}
	}
	dup := -1
	conn.Control(func(fd uintptr) {
		syscall.ForkLock.RLock()
		defer syscall.ForkLock.RUnlock()
		if d, err := syscall.Dup(int(fd)); err == nil {
			syscall.CloseOnExec(d)
			dup = d
		}
	})
	if dup < 0 {
		return s, func() {}
	}

	// O_NONBLOCK belongs to the pipe's open file description, which the
	// duplicate shares with the original descriptor.
	if err := syscall.SetNonblock(dup, true); err != nil {
		syscall.Close(dup)
		return s, func() {}
	}
	nf := os.NewFile(uintptr(dup), f.Name())
	return nf, func() {
		if c, err := nf.SyscallConn(); err == nil {
			c.Control(func(fd uintptr) { syscall.SetNonblock(int(fd), false) })
		}
		nf.Close()
	}
}

// pollableStdio applies pollable to stdin and stdout.
func pollableStdio(stdin io.Reader, stdout io.Writer) (io.Reader, io.Writer, func()) {
	in, restoreIn := pollable(stdin)
	out, restoreOut := pollable(stdout)
	return in.(io.Reader), out.(io.Writer), func() {
		restoreOut()
		restoreIn()
	}
}
