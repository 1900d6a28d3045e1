//go:build unix

package xmlsig_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user+system) the process has used, so that benchmarks can
// report CPU per operation on a machine other jobs are also using.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
