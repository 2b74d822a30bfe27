//go:build unix

package atomicfile

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPlantedLockFile plants, where the lock file goes, what a user who
// can write the file's directory could put there: a symbolic link to a
// file of root's, a hard link to it, a FIFO. The write is refused naming
// the lock file, the planted target keeps its owner, mode and content,
// the file is not written, and the FIFO does not make the write hang.
func TestPlantedLockFile(t *testing.T) {
	for _, tt := range []struct {
		name  string
		plant func(t *testing.T, lock, victim string)
	}{
		{"symbolic link", func(t *testing.T, lock, victim string) { require.NoError(t, os.Symlink(victim, lock)) }},
		{"hard link", func(t *testing.T, lock, victim string) { require.NoError(t, os.Link(victim, lock)) }},
		{"FIFO", func(t *testing.T, lock, _ string) { require.NoError(t, syscall.Mkfifo(lock, 0o600)) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			victim := filepath.Join(dir, "victim")
			require.NoError(t, os.WriteFile(victim, []byte("secret"), 0o640))
			path := filepath.Join(dir, "ks.jks")
			require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))
			if os.Geteuid() == 0 {
				require.NoError(t, os.Chown(path, 12345, 12345), "a keystore of another owner makes the lock file be handed over")
			}
			before, err := os.Stat(victim)
			require.NoError(t, err)
			tt.plant(t, LockPath(path), victim)

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err = Write(ctx, path, []byte("new"), Options{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), LockPath(path))
			assert.Contains(t, err.Error(), "want a regular file with one link")
			assert.NoError(t, ctx.Err(), "refused at once, not after waiting")

			after, err := os.Stat(victim)
			require.NoError(t, err)
			assert.Equal(t, before.Mode(), after.Mode())
			assert.Equal(t, before.Sys().(*syscall.Stat_t).Uid, after.Sys().(*syscall.Stat_t).Uid)
			data, err := os.ReadFile(victim)
			require.NoError(t, err)
			assert.Equal(t, "secret", string(data))
			data, err = os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, "old", string(data))
		})
	}
}
