package keystore

import (
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// jksHugeEntries is the entry count of the hostile store of issue 8: 320,000
// minimal trusted-certificate entries, 9.9 MB.
const jksHugeEntries = 320000

var jksHuge struct {
	once sync.Once
	data []byte
}

// jksHugeFile returns a JKS file of jksHugeEntries trusted-certificate
// entries, each a 5-character alias and a 1-byte "certificate" (31 bytes an
// entry): the most entries a 10 MB file holds with aliases that differ.
func jksHugeFile() []byte {
	jksHuge.once.Do(func() {
		entries := make([]jksRaw, jksHugeEntries)
		for i := range entries {
			a := strconv.FormatInt(int64(i)+36*36*36*36, 36) // 5 characters
			entries[i] = jksRaw{tag: 2, alias: a, created: 1700000000000, certs: [][]byte{{0x30}}}
		}
		jksHuge.data = jksBuild(2, "changeit", entries...)
	})
	return jksHuge.data
}

// jksMemBudget is the memory budget of issue 8 for an input of n bytes:
// 16 MB plus 10 bytes per input byte.
func jksMemBudget(n int) uint64 { return 16<<20 + 10*uint64(n) }

// jksMeasure runs Parse and Marshal of data once and returns the bytes
// they allocated (runtime.MemStats.TotalAlloc) and the largest heap growth
// seen, sampled after Parse and after Marshal (a lower bound of the peak:
// the collector may run in between).
func jksMeasure(tb testing.TB, data []byte) (total, peak uint64) {
	tb.Helper()
	runtime.GC()
	var before, mid, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := Parse(data, []byte("changeit"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	runtime.ReadMemStats(&mid)
	out, err := s.Marshal([]byte("changeit"))
	if err != nil {
		tb.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(s)
	runtime.KeepAlive(out)
	total = after.TotalAlloc - before.TotalAlloc
	for _, m := range []*runtime.MemStats{&mid, &after} {
		if m.HeapAlloc > before.HeapAlloc {
			peak = max(peak, m.HeapAlloc-before.HeapAlloc)
		}
	}
	return total, peak
}

// BenchmarkJKSHugeStore parses and marshals the 320,000-entry store and
// reports the bytes allocated per operation and the heap growth against
// the budget of issue 8 (16 MB + 10 × input size):
//
//	go test ./keystore/ -run '^$' -bench BenchmarkJKSHugeStore -benchtime 3x
func BenchmarkJKSHugeStore(b *testing.B) {
	data := jksHugeFile()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var total, peak uint64
	for i := 0; i < b.N; i++ {
		t, p := jksMeasure(b, data)
		total, peak = max(total, t), max(peak, p)
	}
	b.ReportMetric(float64(total), "alloc-bytes/op")
	b.ReportMetric(float64(peak), "peak-heap-bytes")
	b.ReportMetric(float64(jksMemBudget(len(data))), "budget-bytes")
	b.ReportMetric(float64(total)/float64(len(data)), "alloc/input")
}

// TestJKSHugeStoreWithinBudget: Parse and Marshal of the 320,000-entry
// store allocate at most 16 MB + 10 × its size in all (a memory bound the
// codec guarantees, not a timing). Before the codec kept entries as byte
// ranges of the input it allocated 40 × the input.
func TestJKSHugeStoreWithinBudget(t *testing.T) {
	data := jksHugeFile()
	total, peak := jksMeasure(t, data)
	budget := jksMemBudget(len(data))
	assert.LessOrEqual(t, total, budget, "Parse+Marshal of %d bytes allocated %d bytes (%.1f× the input), budget %d", len(data), total, float64(total)/float64(len(data)), budget)
	assert.LessOrEqual(t, peak, budget, "the heap grew by %d bytes, budget %d", peak, budget)
}
