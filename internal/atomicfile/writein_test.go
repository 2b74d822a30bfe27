package atomicfile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteInReadsTheDirectoryOnce writes 200 files in one directory under
// one lock, with stale temporaries of some of them and look-alikes of
// others planted: every stale temporary of a written file goes, nothing
// else does, and the directory is read for them once, not once a file
// (a 12,000-file truststore directory took 50 s when it was read per file).
func TestWriteInReadsTheDirectoryOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	require.NoError(t, os.Mkdir(dir, 0o755))
	keep := []string{".cert-7.pem.tmp-12x", ".other.pem.tmp-1", "cert-9.pem.tmp-1", ".cert-3.pem.tmp-"}
	for _, name := range append([]string{".cert-1.pem.tmp-123", ".cert-1.pem.tmp-456", ".cert-50.pem.tmp-9"}, keep...) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600))
	}
	l, err := Lock(context.Background(), dir)
	require.NoError(t, err)
	before := dirReads.Load()
	var want []string
	for i := 0; i < 200; i++ {
		name := fmt.Sprintf("cert-%d.pem", i)
		want = append(want, name)
		require.NoError(t, l.WriteIn(name, []byte(name), Options{Mode: 0o644}))
	}
	require.NoError(t, l.Unlock())
	assert.Equal(t, int64(1), dirReads.Load()-before)

	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	var got []string
	for _, de := range des {
		got = append(got, de.Name())
	}
	want = append(want, keep...)
	sort.Strings(want)
	sort.Strings(got)
	assert.Equal(t, want, got)
}
