//go:build !unix

package cli

import "io"

// pollableStdio returns stdin and stdout unchanged outside Unix.
func pollableStdio(stdin io.Reader, stdout io.Writer) (io.Reader, io.Writer, func()) {
	return stdin, stdout, func() {}
}
