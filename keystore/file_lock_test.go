package keystore

import (
	"context"
	"crypto/x509"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/atomicfile"
	"github.com/certroll/certroll/internal/testpki"
)

const (
	envRaceRole  = "CERTROLL_RACE_ROLE" // "update N" or "save MODE"
	envRaceFile  = "CERTROLL_RACE_FILE"
	envRaceCount = "CERTROLL_RACE_COUNT"
)

// TestSaveRacesUpdate runs updater processes (each adding its aliases with
// Update) against one process that saves the same file in a loop. Save
// takes Update's lock, so an Open+Save never lands inside an Update and
// every alias the saver saved is there at the end; a saver that holds
// the lock from Open to SaveLocked loses nobody's alias.
func TestSaveRacesUpdate(t *testing.T) {
	const updaters, each, saves = 4, 8, 8
	for _, mode := range []string{"open-save", "locked"} {
		t.Run(mode, func(t *testing.T) {
			path, _ := saveTestStore(t, JKS)
			type result struct {
				out []byte
				err error
			}
			results := make(chan result, updaters+1)
			start := func(role string, n int) {
				cmd := exec.Command(os.Args[0], "-test.run=^TestRaceWorker$", "-test.count=1")
				cmd.Env = append(os.Environ(), envRaceRole+"="+role, envRaceFile+"="+path, envRaceCount+"="+strconv.Itoa(n))
				go func() {
					out, err := cmd.CombinedOutput()
					results <- result{out, err}
				}()
			}
			start("save "+mode, saves)
			for p := 0; p < updaters; p++ {
				start("update "+strconv.Itoa(p), each)
			}
			for i := 0; i < updaters+1; i++ {
				r := <-results
				require.NoError(t, r.err, "worker output:\n%s", r.out)
			}
			s, err := Open(path, storePassword, nil)
			require.NoError(t, err)
			for i := 0; i < saves; i++ {
				assert.True(t, hasAlias(s, fmt.Sprintf("saver-%d", i)), "saver-%d lost", i)
			}
			if mode == "locked" {
				for p := 0; p < updaters; p++ {
					for i := 0; i < each; i++ {
						assert.True(t, hasAlias(s, fmt.Sprintf("worker-%d-%d", p, i)), "worker-%d-%d lost", p, i)
					}
				}
				assert.Equal(t, 3+saves+updaters*each, len(s.Aliases()))
			}
		})
	}
}

// TestRaceWorker is one process of TestSaveRacesUpdate; it does nothing
// in a normal run.
func TestRaceWorker(t *testing.T) {
	role := os.Getenv(envRaceRole)
	if role == "" {
		return
	}
	path := os.Getenv(envRaceFile)
	n, err := strconv.Atoi(os.Getenv(envRaceCount))
	require.NoError(t, err)
	root := testpki.NewRoot(t, "Race Root "+role)
	trusted := func(alias string) *Entry { return &Entry{Alias: alias, Chain: []*x509.Certificate{root.Cert}} }
	var who string
	if _, err := fmt.Sscanf(role, "update %s", &who); err == nil {
		for i := 0; i < n; i++ {
			alias := fmt.Sprintf("worker-%s-%d", who, i)
			require.NoError(t, Update(context.Background(), path, storePassword, func(s *Store) error { return s.Set(trusted(alias), nil) }, nil))
		}
		return
	}
	for i := 0; i < n; i++ {
		alias := fmt.Sprintf("saver-%d", i)
		switch role {
		case "save open-save":
			s, err := Open(path, storePassword, nil)
			require.NoError(t, err)
			require.NoError(t, s.Set(trusted(alias), nil))
			require.NoError(t, s.Save(path, storePassword, nil))
		case "save locked":
			l, err := LockFile(context.Background(), path)
			require.NoError(t, err)
			s, err := Open(path, storePassword, nil)
			require.NoError(t, err)
			require.NoError(t, s.Set(trusted(alias), nil))
			require.NoError(t, s.SaveLocked(l, storePassword, nil))
			require.NoError(t, l.Unlock())
		default:
			t.Fatalf("unknown role %q", role)
		}
	}
}

func TestUpdateLockWait(t *testing.T) {
	path, _ := saveTestStore(t, PKCS12)
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	held, err := LockFile(context.Background(), path)
	require.NoError(t, err)
	defer held.Unlock()

	var heard []string
	ctx := NotifyLockWait(context.Background(), func(lock string) { heard = append(heard, lock) })
	ctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	err = Update(ctx, path, storePassword, func(s *Store) error {
		t.Fatal("fn must not run without the lock")
		return nil
	}, nil)
	var le *atomicfile.LockError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, lockPath(path), le.Lock)
	assert.ErrorIs(t, err, ErrLocked)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.EqualError(t, err, "keystore: "+path+".lock is held by another process; gave up waiting for it: context deadline exceeded")
	assert.Equal(t, []string{path + ".lock"}, heard, "the wait is announced, naming the lock file")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after)

	// The holder saves through its lock.
	s, err := Open(path, storePassword, nil)
	require.NoError(t, err)
	require.NoError(t, s.Delete("other"))
	require.NoError(t, s.SaveLocked(held, storePassword, nil))
	require.NoError(t, held.Unlock())
	back, err := Open(path, storePassword, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"client", "old-root"}, back.Aliases())
}

// TestUpdateThroughSymlink edits a keystore through a link to it: the
// target is replaced in its own directory and the link stays.
func TestUpdateThroughSymlink(t *testing.T) {
	for _, f := range []Format{JKS, PKCS12} {
		t.Run(f.String(), func(t *testing.T) {
			path, _ := saveTestStore(t, f)
			dir := filepath.Dir(path)
			real := filepath.Join(dir, "real")
			require.NoError(t, os.Mkdir(real, 0o700))
			target := filepath.Join(real, "target.ks")
			require.NoError(t, os.Rename(path, target))
			live := filepath.Join(dir, "live.ks")
			require.NoError(t, os.Symlink("real/target.ks", live))
			assert.Equal(t, lockPath(target), lockPath(live), "the link and its target share one lock")

			require.NoError(t, Update(context.Background(), live, storePassword, func(s *Store) error { return s.Delete("other") }, &UpdateOptions{SaveOptions: SaveOptions{Backup: ".bak"}}))
			s, err := Open(live, storePassword, nil)
			require.NoError(t, err)
			require.NoError(t, s.Delete("old-root"))
			require.NoError(t, s.Save(live, storePassword, nil))

			fi, err := os.Lstat(live)
			require.NoError(t, err)
			assert.Equal(t, fs.ModeSymlink, fi.Mode().Type(), "the link stays a link")
			back, err := Open(target, storePassword, nil)
			require.NoError(t, err)
			assert.Equal(t, []string{"client"}, back.Aliases(), "the target has both changes")
			_, err = os.Stat(filepath.Join(real, "target.ks.bak"))
			assert.NoError(t, err, "the backup lies beside the target")
			left, err := filepath.Glob(filepath.Join(real, ".*tmp*"))
			require.NoError(t, err)
			assert.Empty(t, left)
		})
	}
}

// TestUpdateKeepsOwner checks, as root, that Update and Save keep a
// keystore's owner and group, give the lock file the same, and give a
// backup the keystore's mode and owner rather than a stale backup's.
func TestUpdateKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		needRoot(t, "make files of another owner")
	}
	const uid, gid = 12345, 12345
	ownerOf := func(path string) [2]int {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		return [2]int{int(st.Uid), int(st.Gid)}
	}
	path, _ := saveTestStore(t, PKCS12)
	require.NoError(t, os.Chown(path, uid, gid))
	require.NoError(t, os.WriteFile(path+".bak", []byte("stale"), 0o644))

	require.NoError(t, Update(context.Background(), path, storePassword, func(s *Store) error { return s.Delete("other") }, &UpdateOptions{SaveOptions: SaveOptions{Backup: ".bak"}}))
	assert.Equal(t, [2]int{uid, gid}, ownerOf(path), "Update keeps the owner")
	assert.Equal(t, [2]int{uid, gid}, ownerOf(lockPath(path)), "the lock file gets the keystore's owner")
	assert.Equal(t, [2]int{uid, gid}, ownerOf(path+".bak"), "the backup gets the keystore's owner")
	fi, err := os.Stat(path + ".bak")
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm(), "the backup gets the keystore's mode, not the stale 0644")

	s, err := Open(path, storePassword, nil)
	require.NoError(t, err)
	require.NoError(t, s.Delete("old-root"))
	require.NoError(t, s.Save(path, storePassword, nil))
	assert.Equal(t, [2]int{uid, gid}, ownerOf(path), "Save keeps the owner")
}

// needRoot is called by a test that only root can run: CI runs as root, so
// there (CI set) the test fails rather than skip; elsewhere it is skipped
// with the reason.
func needRoot(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("this test needs root to %s, and CI runs as root: run it as root", why)
	}
	t.Skipf("needs root to %s (CI runs it as root)", why)
}
