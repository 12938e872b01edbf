//go:build !unix

package inspector_test

import "time"

// processCPU reports that this platform gives the test no CPU time.
func processCPU() (time.Duration, bool) { return 0, false }
