//go:build unix

package keystore

import (
	"syscall"
	"time"
)

// p12ProcessCPU returns the CPU time the test process has used, every
// thread (the garbage collector's too) counted.
func p12ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
