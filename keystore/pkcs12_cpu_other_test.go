//go:build !unix

package keystore

import "time"

// p12ProcessCPU is not measured here: cpu-x-floor is not reported.
func p12ProcessCPU() time.Duration { return 0 }
