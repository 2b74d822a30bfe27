package atomicfile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var ctx = context.Background()

// temps lists the temporary files in dir.
func temps(t *testing.T, dir string) []string {
	t.Helper()
	left, err := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	require.NoError(t, err)
	sort.Strings(left)
	return left
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	require.NoError(t, Write(ctx, path, []byte("one"), Options{Backup: ".bak"}))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "a new file gets 0600 by default")
	_, err = os.Stat(path + ".bak")
	assert.True(t, os.IsNotExist(err), "nothing to back up the first time")

	require.NoError(t, os.Chmod(path, 0o640))
	require.NoError(t, Write(ctx, path, []byte("two"), Options{Mode: 0o644, Backup: ".bak"}))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "two", string(got))
	fi, err = os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm(), "an existing file keeps its mode")
	bak, err := os.ReadFile(path + ".bak")
	require.NoError(t, err)
	assert.Equal(t, "one", string(bak))
	assert.Empty(t, temps(t, dir))

	require.NoError(t, Write(ctx, filepath.Join(dir, "g"), []byte("x"), Options{Mode: 0o644}))
	fi, err = os.Stat(filepath.Join(dir, "g"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), "a new file gets Options.Mode")
}

func TestWriteRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o700))
	l, err := Lock(ctx, filepath.Join(dir, "sub"))
	require.NoError(t, err)
	err = l.Write([]byte("x"), Options{})
	require.NoError(t, l.Unlock())
	assert.ErrorContains(t, err, "want a regular file")
	assert.Empty(t, temps(t, dir))
}

func TestWriteMissingDirectory(t *testing.T) {
	err := Write(ctx, filepath.Join(t.TempDir(), "no", "such", "f"), []byte("x"), Options{})
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestUpdate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "list")
	add := func(line string) func([]byte, bool) ([]byte, error) {
		return func(old []byte, exists bool) ([]byte, error) {
			if strings.Contains(string(old), line) {
				return nil, nil // unchanged
			}
			return append(old, line+"\n"...), nil
		}
	}
	require.NoError(t, Update(ctx, path, add("a"), Options{}))
	require.NoError(t, Update(ctx, path, add("b"), Options{}))
	before, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, Update(ctx, path, add("a"), Options{}))
	after, err := os.Stat(path)
	require.NoError(t, err)
	assert.True(t, os.SameFile(before, after), "nil data leaves the file as it is")
	err = Update(ctx, path, func([]byte, bool) ([]byte, error) { return []byte("x"), errors.New("no") }, Options{})
	assert.EqualError(t, err, "no")
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "a\nb\n", string(got))
}

// TestStaleTemporaries plants what killed writers leave and checks that
// the next write removes the temporaries of its own file, and only those.
func TestStaleTemporaries(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.jks")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))
	stale := []string{".a.jks.tmp-1", ".a.jks.tmp-4242424242"}
	kept := []string{
		".a.jks.tmp-",         // no digits: not os.CreateTemp's name
		".a.jks.tmp-12x",      // not digits
		".a.jks.tmp-1.tmp-2",  // a temporary of the file "a.jks.tmp-1"
		".b.jks.tmp-1",        // another file's
		".a.jks.bak.tmp-3",    // the backup's, not written this time
		"a.jks.tmp-5",         // not hidden: a user's file
		".x.a.jks.tmp-6",      // another file's
		".a.jks.tmp-7.broken", // not digits
	}
	for _, n := range append(append([]string{}, stale...), kept...) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte("stale"), 0o600))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, ".a.jks.tmp-8"), 0o700)) // not a regular file
	kept = append(kept, ".a.jks.tmp-8")

	require.NoError(t, Write(ctx, path, []byte("new"), Options{}))
	for _, n := range stale {
		_, err := os.Lstat(filepath.Join(dir, n))
		assert.ErrorIs(t, err, fs.ErrNotExist, "%s is a stale temporary of a.jks", n)
	}
	for _, n := range kept {
		_, err := os.Lstat(filepath.Join(dir, n))
		assert.NoError(t, err, "%s is not a.jks's temporary", n)
	}

	// A backup write removes the backup's stale temporaries too.
	require.NoError(t, Write(ctx, path, []byte("newer"), Options{Backup: ".bak"}))
	_, err := os.Lstat(filepath.Join(dir, ".a.jks.bak.tmp-3"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

const (
	envKillFile = "CERTROLL_ATOMICFILE_KILL_FILE"
	envAsFile   = "CERTROLL_ATOMICFILE_AS_FILE"
)

// TestSIGKILLDuringWrite kills real writer processes with SIGKILL while
// their temporary file exists, three times: each leaves its temporary
// file and removed the one left before it, so at most one is left; the
// next write removes it and the file is whole.
func TestSIGKILLDuringWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store.jks")
	other := filepath.Join(dir, "other.jks")
	require.NoError(t, os.WriteFile(path, []byte("original"), 0o600))
	require.NoError(t, os.WriteFile(other, []byte("other"), 0o600))
	var seen []string
	for i := 0; i < 3; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillWorker$", "-test.count=1")
		cmd.Env = append(os.Environ(), envKillFile+"="+path)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		line, err := bufio.NewReader(out).ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "temporary file written\n", line)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		err = cmd.Wait()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit)
		assert.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal())
		left := temps(t, dir)
		require.Len(t, left, 1, "a killed writer leaves its temporary file, and removed the one killed before it")
		assert.NotContains(t, seen, left[0])
		seen = append(seen, left[0])
	}
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "original", string(got), "a killed writer leaves the file as it was")

	// Another file's write leaves them: they are not its own.
	require.NoError(t, Write(ctx, other, []byte("other 2"), Options{}))
	assert.Len(t, temps(t, dir), 1)

	require.NoError(t, Write(ctx, path, []byte("after the kills"), Options{}))
	assert.Empty(t, temps(t, dir), "the next write of the file removes what the killed writers left")
	got, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "after the kills", string(got))
}

// TestKillWorker is the writer TestSIGKILLDuringWrite kills; it does
// nothing in a normal run.
func TestKillWorker(t *testing.T) {
	path := os.Getenv(envKillFile)
	if path == "" {
		return
	}
	afterTemp = func() {
		fmt.Println("temporary file written")
		select {} // until killed
	}
	require.NoError(t, Write(ctx, path, []byte(strings.Repeat("new content ", 1000)), Options{}))
	t.Fatal("the writer was not killed")
}

func TestSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	require.NoError(t, os.Mkdir(real, 0o700))
	target := filepath.Join(real, "target.jks")
	require.NoError(t, os.WriteFile(target, []byte("old"), 0o640))
	live := filepath.Join(dir, "live.jks")
	require.NoError(t, os.Symlink("real/target.jks", live))
	chained := filepath.Join(dir, "chained.jks")
	require.NoError(t, os.Symlink(live, chained))

	assert.Equal(t, target+".lock", LockPath(live))
	assert.Equal(t, target+".lock", LockPath(chained))
	assert.Equal(t, target+".lock", LockPath(target))

	require.NoError(t, Write(ctx, chained, []byte("new"), Options{Backup: ".bak"}))
	for _, link := range []string{live, chained} {
		fi, err := os.Lstat(link)
		require.NoError(t, err)
		assert.Equal(t, fs.ModeSymlink, fi.Mode().Type(), "%s stays a link", link)
	}
	got, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "new", string(got), "the target is replaced")
	fi, err := os.Stat(target)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
	bak, err := os.ReadFile(target + ".bak")
	require.NoError(t, err)
	assert.Equal(t, "old", string(bak), "the backup is beside the target")
	assert.Empty(t, temps(t, dir))
	assert.Empty(t, temps(t, real))

	// The link and the target are one lock.
	l, err := Lock(ctx, live)
	require.NoError(t, err)
	assert.Equal(t, target, l.Path())
	_, err = TryLock(target)
	var le *LockError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, target+".lock", le.Lock)
	require.NoError(t, l.Unlock())

	// A dangling link is written through: the target is created.
	dangling := filepath.Join(dir, "new.jks")
	require.NoError(t, os.Symlink("real/created.jks", dangling))
	require.NoError(t, Write(ctx, dangling, []byte("created"), Options{}))
	got, err = os.ReadFile(filepath.Join(real, "created.jks"))
	require.NoError(t, err)
	assert.Equal(t, "created", string(got))
}

// owner returns the uid and gid of path.
func owner(t *testing.T, path string) (int, int) {
	t.Helper()
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

// TestOwnerKept checks, as root, that a file of another owner keeps its
// owner and group, that its lock file gets them, that a lock file an
// earlier version made as root is handed over, and that a backup gets
// the file's mode and owner whatever the earlier backup had.
func TestOwnerKept(t *testing.T) {
	if os.Geteuid() != 0 {
		// Without privilege only one's own files can be tested; the
		// privileged guarantee is what this test is for.
		needRoot(t, "make files of another owner")
	}
	const uid, gid = 12345, 12345
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.jks")
	require.NoError(t, os.WriteFile(path, []byte("one"), 0o600))
	require.NoError(t, os.Chown(path, uid, gid))
	// A stale world-readable backup, owned by root.
	require.NoError(t, os.WriteFile(path+".bak", []byte("ancient"), 0o644))

	require.NoError(t, Write(ctx, path, []byte("two"), Options{Backup: ".bak"}))
	u, g := owner(t, path)
	assert.Equal(t, [2]int{uid, gid}, [2]int{u, g}, "the file keeps its owner and group")
	u, g = owner(t, path+".lock")
	assert.Equal(t, [2]int{uid, gid}, [2]int{u, g}, "the lock file gets the file's owner and group")
	fi, err := os.Stat(path + ".lock")
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	u, g = owner(t, path+".bak")
	assert.Equal(t, [2]int{uid, gid}, [2]int{u, g}, "the backup gets the file's owner and group")
	fi, err = os.Stat(path + ".bak")
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the backup gets the file's mode, not the stale backup's")
	bak, err := os.ReadFile(path + ".bak")
	require.NoError(t, err)
	assert.Equal(t, "one", string(bak))

	// A root-made lock file (as earlier versions left) is handed over.
	other := filepath.Join(dir, "svc2.jks")
	require.NoError(t, os.WriteFile(other, []byte("one"), 0o660))
	require.NoError(t, os.Chmod(other, 0o660))
	require.NoError(t, os.Chown(other, uid, gid))
	require.NoError(t, os.WriteFile(other+".lock", nil, 0o600))
	require.NoError(t, Write(ctx, other, []byte("two"), Options{}))
	u, g = owner(t, other+".lock")
	assert.Equal(t, [2]int{uid, gid}, [2]int{u, g})
	fi, err = os.Stat(other + ".lock")
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), fi.Mode().Perm(), "the lock file gets the file's owner and group bits")
	u, g = owner(t, other)
	assert.Equal(t, [2]int{uid, gid}, [2]int{u, g})
}

func TestLockWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	held, err := Lock(ctx, path)
	require.NoError(t, err)

	// A wait that ends fails with a LockError naming the lock file.
	var heard []string
	c, cancel := context.WithTimeout(WithWaitHook(ctx, func(lock string) { heard = append(heard, lock) }), 30*time.Millisecond)
	defer cancel()
	err = Write(c, path, []byte("x"), Options{})
	var le *LockError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, path+".lock", le.Lock)
	assert.ErrorIs(t, err, ErrLocked)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), path+".lock is held by another process")
	assert.Equal(t, []string{path + ".lock"}, heard, "the wait is announced once, naming the lock file")
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, fs.ErrNotExist, "nothing was written")

	// A waiter gets the lock when the holder lets go.
	waiting := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Write(WithWaitHook(ctx, func(lock string) { waiting <- lock }), path, []byte("after"), Options{})
	}()
	assert.Equal(t, path+".lock", <-waiting)
	require.NoError(t, held.Write([]byte("held"), Options{}), "the holder writes through its lock")
	require.NoError(t, held.Unlock())
	require.NoError(t, <-done)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "after", string(got))

	// An uncontended lock is not announced.
	heard = nil
	require.NoError(t, Write(WithWaitHook(ctx, func(lock string) { heard = append(heard, lock) }), path, []byte("y"), Options{}))
	assert.Empty(t, heard)
}

func TestDirectoryLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	require.NoError(t, os.Mkdir(dir, 0o755))
	assert.Equal(t, dir+".lock", LockPath(dir), "beside the directory, not among its files")
	l, err := Lock(ctx, dir)
	require.NoError(t, err)
	defer l.Unlock()
	require.NoError(t, l.WriteIn("a.pem", []byte("a"), Options{Mode: 0o644}))
	got, err := os.ReadFile(filepath.Join(dir, "a.pem"))
	require.NoError(t, err)
	assert.Equal(t, "a", string(got))
	for _, bad := range []string{"", ".", "..", "sub/a.pem", "../a.pem"} {
		assert.ErrorContains(t, l.WriteIn(bad, []byte("x"), Options{}), "want a file name", "%q", bad)
	}
}

const (
	envUnprivDir  = "CERTROLL_ATOMICFILE_UNPRIV_DIR"
	envUnprivFile = "CERTROLL_ATOMICFILE_UNPRIV_FILE"
)

// nobody is the uid and gid the unprivileged children run as.
const nobody = 65534

// runAsNobody runs the test binary's test named run as uid and gid
// nobody, with env, and returns its output. The binary is copied where
// nobody may execute it.
func runAsNobody(t *testing.T, run string, env ...string) (string, error) {
	t.Helper()
	bin := filepath.Join(shared(t), "atomicfile.test")
	exe, err := os.ReadFile(os.Args[0])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, exe, 0o755))
	cmd := exec.Command(bin, "-test.run=^"+run+"$", "-test.count=1", "-test.v")
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"}, env...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// shared returns a temporary directory that other users may enter.
func shared(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/" && d != "."; d = filepath.Dir(d) {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	return dir
}

// TestUnprivileged runs writers as an unprivileged user (root bypasses
// permissions, so the permission checks need another user): a read-only
// directory gives an error saying that the directory must be writable,
// and a file of another owner in a writable directory is replaced by one
// of the writer's own (it may not give files away), without an error.
func TestUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		needRoot(t, "run a child as another user")
	}
	t.Run("read-only directory", func(t *testing.T) {
		dir := filepath.Join(shared(t), "ro")
		require.NoError(t, os.Mkdir(dir, 0o755))
		path := filepath.Join(dir, "store.jks")
		require.NoError(t, os.WriteFile(path, []byte("old"), 0o666))
		require.NoError(t, os.Chmod(dir, 0o555))
		out, err := runAsNobody(t, "TestUnprivilegedWorker", envUnprivFile+"="+path, envUnprivDir+"=ro")
		require.NoError(t, err, out)
		assert.Contains(t, out, "the directory "+dir+" must be writable by this process to replace store.jks (the lock file and the temporary file are created there)")
		assert.Contains(t, out, "permission denied")
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, "old", string(got), "the file is untouched")
		assert.Empty(t, temps(t, dir))
	})
	t.Run("file of another owner", func(t *testing.T) {
		dir := filepath.Join(shared(t), "rw")
		require.NoError(t, os.Mkdir(dir, 0o777))
		require.NoError(t, os.Chmod(dir, 0o777))
		path := filepath.Join(dir, "store.jks")
		require.NoError(t, os.WriteFile(path, []byte("old"), 0o666))
		require.NoError(t, os.Chmod(path, 0o666))
		require.NoError(t, os.Chown(path, 12345, 12345))
		out, err := runAsNobody(t, "TestUnprivilegedWorker", envUnprivFile+"="+path, envUnprivDir+"=rw")
		require.NoError(t, err, out)
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, "new", string(got))
		u, g := owner(t, path)
		assert.Equal(t, [2]int{nobody, nobody}, [2]int{u, g}, "an unprivileged writer cannot keep another owner")
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o666), fi.Mode().Perm(), "the mode is kept")
		assert.Empty(t, temps(t, dir))
	})
}

// TestUnprivilegedWorker is the child of TestUnprivileged; it does
// nothing in a normal run.
func TestUnprivilegedWorker(t *testing.T) {
	path := os.Getenv(envUnprivFile)
	if path == "" {
		return
	}
	require.NotEqual(t, 0, os.Geteuid())
	err := Write(ctx, path, []byte("new"), Options{})
	switch os.Getenv(envUnprivDir) {
	case "ro":
		var de *DirError
		require.ErrorAs(t, err, &de)
		assert.ErrorIs(t, err, fs.ErrPermission)
		fmt.Println("error:", err)
	default:
		require.NoError(t, err)
	}
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
