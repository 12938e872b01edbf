//go:build !unix

package main

import "time"

// selfCPU returns 0: this benchmark reads CPU time on Unix only.
func selfCPU() time.Duration { return 0 }
