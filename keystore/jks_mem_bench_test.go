package keystore

import (
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
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

// jksParseMarshal is what the budget covers: Parse and Marshal of data.
func jksParseMarshal(data []byte) error {
	s, err := Parse(data, []byte("changeit"))
	if err != nil {
		return err
	}
	_, err = s.Marshal([]byte("changeit"))
	return err
}

// jksMeasure runs f once and returns the bytes it allocated and the
// largest heap growth seen (sampled after f, so a lower bound of the peak).
func jksMeasure(f func()) (total, heap uint64) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	total = after.TotalAlloc - before.TotalAlloc
	if after.HeapInuse > before.HeapInuse {
		heap = after.HeapInuse - before.HeapInuse
	}
	return total, heap
}

// BenchmarkJKSHugeStore parses and marshals the 320,000-entry store and
// reports the bytes allocated per operation against the budget of issue 8
// (16 MB + 10 × input size).
func BenchmarkJKSHugeStore(b *testing.B) {
	data := jksHugeFile()
	budget := jksMemBudget(len(data))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var worst uint64
	for i := 0; i < b.N; i++ {
		total, _ := jksMeasure(func() {
			if err := jksParseMarshal(data); err != nil {
				b.Fatal(err)
			}
		})
		worst = max(worst, total)
	}
	b.ReportMetric(float64(worst), "alloc-bytes/op")
	b.ReportMetric(float64(budget), "budget-bytes")
	b.ReportMetric(float64(worst)/float64(len(data)), "alloc/input")
}

func TestJKSHugeStoreMeasure(t *testing.T) {
	data := jksHugeFile()
	total, heap := jksMeasure(func() { require.NoError(t, jksParseMarshal(data)) })
	t.Logf("input %d, total %d (%.1fx), heap %d, budget %d", len(data), total, float64(total)/float64(len(data)), heap, jksMemBudget(len(data)))
}
