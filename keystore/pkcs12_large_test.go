package keystore

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
)

// A store of 10,000 key entries (leaf and issuing CA each), as the
// benchmarks use, written with Modern2024 at 100 iterations: memory does
// not depend on the counts, and openssl decrypts every key when it lists
// the file.

const p12LargeEntries = 10000

var p12LargeProfile = Modern.WithIterations(100)

func p12LargeFile(t testing.TB) []byte {
	t.Helper()
	p12LargeOnce.Do(func() {
		s := p12BenchStore(t, p12LargeProfile, p12LargeEntries)
		data, err := s.Marshal([]byte("changeit"))
		require.NoError(t, err)
		p12LargeData = data
	})
	require.NotNil(t, p12LargeData)
	return p12LargeData
}

var (
	p12LargeOnce sync.Once
	p12LargeData []byte
)

// p12OpenBudget is the bound on the memory opening a PKCS#12
// file takes: 1.5× the file and 16 MB.
func p12OpenBudget(size int) uint64 { return uint64(size)*3/2 + 16<<20 }

// p12EntryOverhead is what opening a PKCS#12 file may allocate beyond
// the file for each entry (its record, its two bags and their indexes):
// half of the ~890 bytes a Modern2024 P-256 key entry with its leaf
// takes in the file, so that opening holds within 1.5 times the file
// whatever the number of entries. p12OpenFixed is what it may allocate
// once, whatever the file (the decrypter's and the indexes' small
// buffers and the tables rounded up to a power of two).
const (
	p12EntryOverhead = 445
	p12OpenFixed     = 256 << 10
)

// p12MeasureOpen returns the bytes open allocates (reading the file
// included) and the bytes the store it returns keeps on the heap.
func p12MeasureOpen(t testing.TB, open func() (*Store, error)) (allocated, kept uint64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := open()
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	allocated = after.TotalAlloc - before.TotalAlloc
	runtime.GC()
	runtime.ReadMemStats(&after)
	if after.HeapAlloc > before.HeapAlloc {
		kept = after.HeapAlloc - before.HeapAlloc
	}
	runtime.KeepAlive(s)
	return allocated, kept
}

// TestPKCS12LargeOpenWithinBudget: opening a file of 10,000 key entries
// allocates at most 1.5× the file and 16 MB, everything counted (the
// buffer read, the decrypted certificates, the bags and entries), and
// beyond the file at most p12EntryOverhead bytes an entry and
// p12OpenFixed once, which keeps a file of any size within 1.5× it. The
// bounds are on bytes allocated, which the heap's peak cannot exceed.
func TestPKCS12LargeOpenWithinBudget(t *testing.T) {
	data := p12LargeFile(t)
	path := p12WriteFile(t, t.TempDir(), "large.p12", data)
	allocated, kept := p12MeasureOpen(t, func() (*Store, error) { return Open(path, []byte("changeit"), nil) })
	budget := p12OpenBudget(len(data))
	assert.LessOrEqual(t, allocated, budget, "opening %d bytes allocated %d (%.2f× the file), budget %d", len(data), allocated, float64(allocated)/float64(len(data)), budget)
	perEntry := uint64(len(data)) + p12LargeEntries*p12EntryOverhead + p12OpenFixed
	assert.LessOrEqual(t, allocated, perEntry, "opening %d entries allocated %d bytes beyond the file (%.0f an entry); at most %d an entry and %d once",
		p12LargeEntries, int64(allocated)-int64(len(data)), float64(int64(allocated)-int64(len(data)))/p12LargeEntries, p12EntryOverhead, p12OpenFixed)
	assert.LessOrEqual(t, kept, allocated)
	t.Logf("file %d bytes: allocated %d (%.2f×), kept %d (%.2f×)", len(data), allocated, float64(allocated)/float64(len(data)), kept, float64(kept)/float64(len(data)))
}

// TestPKCS12LargeReplaceReadByOpenSSL: a file of 10,000 key entries,
// opened, one alias replaced and saved, is read by openssl (MAC, every
// key decrypted, every certificate) and by this package, and every other
// key bag is written as it was read.
func TestPKCS12LargeReplaceReadByOpenSSL(t *testing.T) {
	data := p12LargeFile(t)
	dir := t.TempDir()
	path := p12WriteFile(t, dir, "large.p12", data)
	s, err := Open(path, []byte("changeit"), nil)
	require.NoError(t, err)
	repl := testpki.NewRoot(t, "Large Root").Leaf(t, "replacement")
	_, err = s.Replace("client-0", repl.Key, []*x509.Certificate{repl.Cert}, nil)
	require.NoError(t, err)
	require.NoError(t, s.Save(path, []byte("changeit"), nil))

	// openssl checks the MAC, decrypts the certificates and every key,
	// and writes them as PEM to a file (its -info lines go to stderr,
	// where they would interleave with the PEM).
	pemPath := filepath.Join(dir, "large.pem")
	pwFile := writeSecretFile(t, dir, []byte("changeit"))
	p12MustExec(t, "openssl", "pkcs12", "-in", path, "-passin", "file:"+pwFile, "-nodes", "-out", pemPath)
	pemOut := string(mustRead(t, pemPath))
	assert.Equal(t, p12LargeEntries, strings.Count(pemOut, "-----BEGIN PRIVATE KEY-----"))
	assert.Equal(t, p12LargeEntries+1, strings.Count(pemOut, "-----BEGIN CERTIFICATE-----"), "10,000 leaves and the issuing CA once")
	assert.Contains(t, pemOut, "friendlyName: client-0\n")
	assert.Contains(t, pemOut, fmt.Sprintf("friendlyName: client-%d\n", p12LargeEntries-1))

	back, err := Open(path, []byte("changeit"), nil)
	require.NoError(t, err)
	assert.Len(t, back.Aliases(), p12LargeEntries)
	e, err := back.Entry("client-0")
	require.NoError(t, err)
	assert.Equal(t, KeyFingerprint(repl.Key.Public()), KeyFingerprint(e.Key.Public()))

	// The other keys are the bags read, byte for byte.
	before, after := p12KeyBags(t, data), p12KeyBags(t, mustRead(t, path))
	require.Len(t, after, p12LargeEntries)
	same := 0
	for raw := range before {
		if after[raw] {
			same++
		}
	}
	assert.Equal(t, p12LargeEntries-1, same)
}

// p12KeyBags returns the encodings of a file's key bags.
func p12KeyBags(t *testing.T, data []byte) map[string]bool {
	t.Helper()
	s, err := Parse(data, []byte("changeit"), nil)
	require.NoError(t, err)
	out := map[string]bool{}
	for _, r := range s.recs {
		if n, ok := r.native.(*pkcs12Native); ok && n.key != nil {
			out[string(n.key.Raw)] = true
		}
	}
	return out
}

// BenchmarkPKCS12OpenMemory opens the file of 10,000 key entries and
// reports what it allocated (reading the file included) and what the
// store keeps, in bytes and as x-file, the multiple of the file's size;
// the bound is 1.5× and 16 MB.
func BenchmarkPKCS12OpenMemory(b *testing.B) {
	data := p12LargeFile(b)
	path := filepath.Join(b.TempDir(), "large.p12")
	require.NoError(b, os.WriteFile(path, data, 0o600))
	for _, c := range []struct {
		name string
		open func() (*Store, error)
	}{
		{"Open", func() (*Store, error) { return Open(path, []byte("changeit"), nil) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			var allocated, kept uint64
			for i := 0; i < b.N; i++ {
				allocated, kept = p12MeasureOpen(b, c.open)
			}
			b.ReportMetric(float64(len(data)), "file-B")
			b.ReportMetric(float64(allocated), "alloc-B/op")
			b.ReportMetric(float64(kept), "kept-B")
			b.ReportMetric(float64(allocated)/float64(len(data)), "x-file")
			b.ReportMetric(float64(p12OpenBudget(len(data))), "budget-B")
			b.ReportMetric((float64(allocated)-float64(len(data)))/p12LargeEntries, "overhead-B/entry")
		})
	}
}
