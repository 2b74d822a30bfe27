package hostile_test

import (
	"errors"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/internal/hostile"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
)

// entry is one public entry point an input is fed to.
type entry struct {
	name string
	run  func(in hostile.Input) error
}

// entries returns the entry points that take in.
func entries(in hostile.Input) []entry {
	parse := entry{"keystore.Parse", func(in hostile.Input) error { _, err := keystore.Parse(in.Data, in.Password, nil); return err }}
	trust := entry{"truststore.Parse", func(in hostile.Input) error { _, err := truststore.Parse(in.Data, in.Password); return err }}
	switch in.Target {
	case hostile.PKCS12, hostile.JKS:
		return []entry{parse, trust}
	case hostile.Bundle:
		return []entry{trust}
	case hostile.Certificates:
		return []entry{{"keystore.ParseCertificates", func(in hostile.Input) error { _, err := keystore.ParseCertificates(in.Data); return err }}}
	case hostile.Chain:
		return []entry{{"chain.Complete", func(in hostile.Input) error { _, _, err := chain.Complete(in.Chain, in.Pool); return err }}}
	}
	return nil
}

// owned reports whether the guarantee for in is this branch's to keep:
// the JKS decoder's memory is keystore/jks.go's (another part of issue 8),
// measured here by BenchmarkCorpus only.
func owned(in hostile.Input) bool {
	return in.Name != "jks-320000-minimal-entries"
}

// allocated returns the bytes fn allocates (runtime.MemStats.TotalAlloc):
// an upper bound of the memory it holds at any time.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestCorpusWithinMemory checks that every input costs at most 16 MB plus
// ten times its size, counting every allocation, and that each input
// meant to be refused is refused with ErrLimit.
func TestCorpusWithinMemory(t *testing.T) {
	for _, in := range hostile.Corpus() {
		if !owned(in) {
			continue
		}
		for _, e := range entries(in) {
			t.Run(in.Name+"/"+e.name, func(t *testing.T) {
				var err error
				got := allocated(func() { err = e.run(in) })
				assert.LessOrEqual(t, int64(got), hostile.MemBudget(in.Size()), "allocated %d bytes for %d bytes of input", got, in.Size())
				if in.Limit {
					assert.True(t, errors.Is(err, keystore.ErrLimit), "want ErrLimit, got %v", err)
				}
			})
		}
	}
}

// cpuTime returns the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCorpus runs every input through each entry point that takes it
// and reports, besides ns/op and B/op, the CPU time per operation as a
// fraction of the 2 s budget (cpu/budget) and the bytes allocated per
// operation as a fraction of 16 MB + 10·n (mem/budget). A figure above 1
// is a budget exceeded.
func BenchmarkCorpus(b *testing.B) {
	for _, in := range hostile.Corpus() {
		for _, e := range entries(in) {
			b.Run(in.Name+"/"+e.name, func(b *testing.B) {
				b.ReportAllocs()
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				cpu0 := cpuTime()
				for i := 0; i < b.N; i++ {
					_ = e.run(in)
				}
				cpu := cpuTime() - cpu0
				runtime.ReadMemStats(&ms1)
				perOp := float64(ms1.TotalAlloc-ms0.TotalAlloc) / float64(b.N)
				b.ReportMetric(cpu.Seconds()/float64(b.N)/hostile.CPUBudget.Seconds(), "cpu/budget")
				b.ReportMetric(perOp/float64(hostile.MemBudget(in.Size())), "mem/budget")
				b.ReportMetric(float64(in.Size()), "input-bytes")
			})
		}
	}
}

// TestBERSegmentsReads checks that the BER input is a real file: it reads,
// with every certificate of its SafeContents.
func TestBERSegmentsReads(t *testing.T) {
	data := hostile.BERSegments(64 << 10)
	s, err := keystore.Parse(data, nil, nil)
	if !assert.NoError(t, err) {
		return
	}
	assert.Empty(t, s.Aliases())
	certs, err := s.OtherCertificates() // every bag is a certificate of no entry
	assert.NoError(t, err)
	assert.Greater(t, len(certs), 50)
}

// TestCertificateCopies checks that the binary certificate inputs are what
// they say: every copy reads.
func TestCertificateCopies(t *testing.T) {
	for name, data := range map[string][]byte{"PKCS #7": hostile.PKCS7Copies(3), "DER": hostile.DERCopies(3)} {
		certs, err := keystore.ParseCertificates(data)
		if assert.NoError(t, err, name) {
			assert.Len(t, certs, 3, name)
		}
	}
}

// TestManyDerivationsMACVerifies checks that the MAC of ManyDerivations
// verifies for the empty password, so that a reader without the work
// budget goes on to derive the pieces' keys: with cheap pieces, the empty
// password fails at decrypting the first piece (its ciphertext is
// garbage), another password at the MAC.
func TestManyDerivationsMACVerifies(t *testing.T) {
	data := hostile.ManyDerivationsAt(1, 1)
	_, err := keystore.Parse(data, nil, nil)
	assert.True(t, errors.Is(err, keystore.ErrIncorrectPassword), "got %v", err)
	assert.Contains(t, err.Error(), "decryption failed")
	_, err = keystore.Parse(data, []byte("x"), nil)
	assert.True(t, errors.Is(err, keystore.ErrIncorrectPassword), "got %v", err)
	assert.Contains(t, err.Error(), "MAC does not match")
}

// TestTinyPiecesDecrypt checks that the pieces of ManyTinyPieces decrypt
// with the empty password, so that a reader without a bound on the number
// of derivations reads them all: a few pieces read as an empty store.
func TestTinyPiecesDecrypt(t *testing.T) {
	s, err := keystore.Parse(hostile.ManyTinyPieces(3), nil, nil)
	if assert.NoError(t, err) {
		assert.Empty(t, s.Aliases())
	}
}
