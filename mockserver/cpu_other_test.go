//go:build !unix

package mockserver

import (
	"testing"
	"time"
)

// processCPU returns 0 where the process's CPU time is not measured, so
// that the benchmark leaves the cpu-µs/req metric out.
func processCPU(testing.TB) time.Duration { return 0 }
