//go:build windows

package credentials

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// shellCommand returns command run by cmd.exe /C. The command line is passed
// through unquoted, because cmd.exe does not follow the quoting rules that
// os/exec applies to arguments.
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	shell := filepath.Join(os.Getenv("SystemRoot"), "System32", "cmd.exe")
	if os.Getenv("SystemRoot") == "" {
		shell = "cmd.exe"
	}
	cmd := exec.CommandContext(ctx, shell)
	cmd.SysProcAttr = &syscall.SysProcAttr{CmdLine: `cmd.exe /C ` + command}
	return cmd
}
