//go:build !windows

package credentials

import (
	"context"
	"os/exec"
	"syscall"
)

// shellCommand returns command run by /bin/sh in a process group of its own,
// so that a timeout stops the programs the shell started as well.
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return cmd
}
