// Package atomicfile replaces files so that a reader, or a crash, never
// sees half of a write, under a lock that every writer of the file takes:
// the keystores, truststores, journals and receiver files of certroll are
// all written through it, and none keeps its own copy of this code.
//
// # Writing
//
// [Locked.Write] writes the bytes to a temporary file ".NAME.tmp-DIGITS"
// in the file's directory, gives it the file's permission bits, owner and
// group, syncs it, renames it over the file and syncs the directory. A
// reader sees the old file or the new one, never a mix; on any error the
// file is untouched and no temporary file is left. A crash (SIGKILL, power
// loss) between creating the temporary file and renaming it leaves that
// temporary file behind; the next locked write of the same file removes
// it, and only temporary files of that file's own naming, so a crash costs
// at most one stale copy until the next write.
//
// # Locking
//
// [Lock] takes an exclusive advisory lock on the lock file [LockPath]
// returns (path+".lock" beside the real file, or beside the directory for
// a set of files written under one lock) and waits for it as long as its context allows, telling the
// hook installed with [WithWaitHook] that it waits. The lock is an flock
// (LockFileEx on Windows) on the open lock file: it is released when the
// holder unlocks, exits or is killed, so a lock file left on disk blocks
// nobody. Two locks on one file conflict even within one process (each
// [Lock] opens the lock file anew), so a holder must write through its
// [*Locked] rather than call [Write], which would wait for itself. The
// lock does not stop programs that ignore it, such as keytool.
//
// # Symbolic links
//
// A path that is a symbolic link (or a chain of them) is resolved first:
// the link's target is locked and replaced in its own directory, and the
// link stays a link. live.jks -> real/target.jks and real/target.jks lock
// the same lock file.
//
// # Owner and mode
//
// A replaced file keeps its permission bits, owner and group. Setting the
// owner needs the privilege to do so (root, or CAP_CHOWN): a process
// without it writes a file of its own user and group where the file had
// another owner, which is what an unprivileged editor does too; a process
// running as root that cannot set the owner fails instead. A backup gets
// the mode, owner and group of the file it copies, whatever an earlier
// backup had. A lock file gets the file's owner and group, and the read
// and write bits of the file's owner and group.
package atomicfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// Options say how a file is written. The zero value writes a new file
// with mode 0600 and keeps no backup.
type Options struct {
	// Mode is the permission bits of a new file (0600 if zero); an
	// existing file keeps its own.
	Mode fs.FileMode
	// Backup, if not empty, keeps the file being replaced as
	// path+Backup, written atomically with the file's mode and owner.
	Backup string
}

// ErrLocked reports that another holder kept a file's lock until the wait
// for it ended. [*LockError] matches it with [errors.Is].
var ErrLocked = errors.New("locked by another process")

// A LockError reports that the lock file Lock names was held by another
// process (or another [Locked] in this one) until the wait for it ended.
// It matches [ErrLocked] and Err (context.DeadlineExceeded or
// context.Canceled) with [errors.Is].
type LockError struct {
	Lock string // the lock file
	Err  error  // why the wait ended; nil for a lock that was only tried
}

func (e *LockError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%s is held by another process", e.Lock)
	}
	return fmt.Sprintf("%s is held by another process; gave up waiting for it: %v", e.Lock, e.Err)
}

// Unwrap returns ErrLocked and the reason the wait ended.
func (e *LockError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrLocked}
	}
	return []error{ErrLocked, e.Err}
}

type waitHookKey struct{}

// WithWaitHook returns a context that makes [Lock] call fn with the lock
// file's path, once, when it finds the lock held by someone else and
// starts to wait. fn must not block for long.
func WithWaitHook(ctx context.Context, fn func(lockFile string)) context.Context {
	return context.WithValue(ctx, waitHookKey{}, fn)
}

// DefaultTimeout is how long the writers of certroll that take no context
// wait for a lock: long enough for any edit another process makes (they
// take milliseconds), short enough that a forgotten holder is reported
// rather than waited for forever.
const DefaultTimeout = time.Minute

// Within returns a context for a lock wait of at most DefaultTimeout, and
// its cancel function.
func Within() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), DefaultTimeout)
}

// retry is how often a waiting Lock tries the lock again. Short enough
// that a waiter is not kept much longer than the holder needs, long
// enough that waiting costs nothing measurable.
const retry = 10 * time.Millisecond

// maxLinks bounds the symbolic links followed, as Linux's MAXSYMLINKS.
const maxLinks = 40

// Resolve returns the file path stands for: path with every symbolic link
// of its last element followed (to a target that may not exist yet).
// Links in the directories above are left in place: a rename through them
// lands in the same directory.
func Resolve(path string) (string, error) {
	p := path
	for i := 0; i < maxLinks; i++ {
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", err
			}
			return p, nil
		}
		target, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = target
	}
	return "", fmt.Errorf("%s: more than %d symbolic links", path, maxLinks)
}

// LockPath returns the lock file of path: path+".lock" beside the file
// (or directory) path resolves to (see [Resolve]). If path cannot be
// resolved, it is used as it is.
func LockPath(path string) string {
	real, err := Resolve(path)
	if err != nil {
		real = path
	}
	return lockPathOf(real)
}

func lockPathOf(real string) string { return real + ".lock" }

// Locked is a lock held on a file (see [Lock]); it writes that file. Its
// methods must not be called after Unlock, nor concurrently.
type Locked struct {
	path string // the resolved file
	lock string
	os   *osLock
	// stale lists, per file name, the stale temporary files found in the
	// locked directory by the first WriteIn (read once, so that writing n
	// files costs one directory read, not n).
	stale map[string][]string
}

// Lock takes the exclusive lock on path (see the package documentation),
// waiting until ctx is done if another holder has it; then the error is a
// [*LockError]. A directory where the lock file cannot be created gives
// an error saying that the directory must be writable.
func Lock(ctx context.Context, path string) (*Locked, error) {
	l, ok, err := try(path)
	if err != nil || ok {
		return l, err
	}
	if fn, _ := ctx.Value(waitHookKey{}).(func(string)); fn != nil {
		fn(l.lock)
	}
	t := time.NewTicker(retry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.os.close()
			return nil, &LockError{Lock: l.lock, Err: ctx.Err()}
		case <-t.C:
		}
		ok, err := l.os.try()
		if err != nil {
			l.os.close()
			return nil, fmt.Errorf("lock %s: %w", l.lock, err)
		}
		if ok {
			return l, nil
		}
	}
}

// TryLock takes the lock on path as [Lock] does, but fails at once with a
// [*LockError] if another holder has it.
func TryLock(path string) (*Locked, error) {
	l, ok, err := try(path)
	if err != nil {
		return nil, err
	}
	if !ok {
		l.os.close()
		return nil, &LockError{Lock: l.lock}
	}
	return l, nil
}

// try opens (creating it if needed) path's lock file and tries the lock
// once. l is set whenever err is nil.
func try(path string) (l *Locked, ok bool, err error) {
	real, err := Resolve(path)
	if err != nil {
		return nil, false, err
	}
	lock := lockPathOf(real)
	f, err := openLock(real, lock)
	if err != nil {
		return nil, false, err
	}
	ol := newOSLock(f, lock)
	ok, err = ol.try()
	if err != nil {
		ol.close()
		return nil, false, fmt.Errorf("lock %s: %w", lock, writable(err, filepath.Dir(lock), real))
	}
	return &Locked{path: real, lock: lock, os: ol}, ok, nil
}

// openLock opens the lock file, creating it if it is missing with the
// owner, group and read-write bits of the file (see the package
// documentation); a lock file of another owner than the file's (as an
// earlier version left, made by root) is handed to the file's owner when
// the process may. Reading is enough to take an flock; opening read-only
// lets anyone who may read the lock file take it, whoever created it.
//
// The lock file's directory may be writable by someone else (the file's
// owner, a service account): a symbolic link, a hard link or a FIFO
// planted as the lock file is refused, never followed, chowned or waited
// on, and the descriptor checked is the one locked.
func openLock(real, lock string) (_ *os.File, err error) {
	var meta *meta
	if fi, err := os.Stat(real); err == nil && !fi.IsDir() {
		meta = metaOf(fi)
	}
	mode := fs.FileMode(0o600)
	if meta != nil {
		mode |= meta.mode & 0o660
	}
	f, err := os.OpenFile(lock, os.O_RDONLY|os.O_CREATE|os.O_EXCL|lockOpenFlags, mode)
	created := err == nil
	if errors.Is(err, fs.ErrExist) {
		f, err = os.OpenFile(lock, os.O_RDONLY|lockOpenFlags, 0)
	}
	if isSymlinkRefused(err) {
		return nil, fmt.Errorf("lock %s: want a regular file with one link, found a symbolic link; remove it (someone may have planted it)", lock)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", lock, writable(err, filepath.Dir(lock), real))
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", lock, err)
	}
	if !fi.Mode().IsRegular() || !singleLink(fi) {
		return nil, fmt.Errorf("lock %s: want a regular file with one link, found %s; remove it (someone may have planted it)", lock, describeLock(fi))
	}
	if created {
		// The mode without the umask: the file's group may need it.
		if err := f.Chmod(mode); err != nil {
			return nil, fmt.Errorf("lock %s: %w", lock, err)
		}
	}
	if meta == nil || !meta.owned {
		return f, nil
	}
	if m := metaOf(fi); m.owned && m.uid == meta.uid && m.gid == meta.gid {
		return f, nil
	}
	done, err := chown(f, meta)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", lock, err)
	}
	if done {
		if err := f.Chmod(mode); err != nil {
			return nil, fmt.Errorf("lock %s: %w", lock, err)
		}
	}
	return f, nil
}

// describeLock says what a refused lock file is.
func describeLock(fi fs.FileInfo) string {
	if fi.Mode().IsRegular() {
		return "a regular file with more than one link"
	}
	return fmt.Sprintf("a file of type %v", fi.Mode().Type())
}

// writable turns a permission error in dir into one that says why the
// directory must be writable.
func writable(err error, dir, file string) error {
	if !errors.Is(err, fs.ErrPermission) {
		return err
	}
	return &DirError{Dir: dir, File: file, Err: err}
}

// A DirError reports that a file could not be locked or written because
// its directory does not let this process create files: the lock file
// and the temporary file are created there. It matches Err (usually
// [fs.ErrPermission]) with [errors.Is].
type DirError struct {
	Dir  string // the directory
	File string // the file to be written
	Err  error
}

func (e *DirError) Error() string {
	return fmt.Sprintf("the directory %s must be writable by this process to replace %s (the lock file and the temporary file are created there): %v",
		e.Dir, filepath.Base(e.File), e.Err)
}

// Unwrap returns the underlying error.
func (e *DirError) Unwrap() error { return e.Err }

// Path returns the file the lock is held on, symbolic links resolved.
func (l *Locked) Path() string { return l.path }

// LockFile returns the path of the lock file.
func (l *Locked) LockFile() string { return l.lock }

// Unlock releases the lock. The lock file stays (removing it would let a
// waiter lock a file that a newcomer then creates anew).
func (l *Locked) Unlock() error {
	err := l.os.unlock()
	if cerr := l.os.close(); err == nil {
		err = cerr
	}
	return err
}

// Write replaces the locked file with data (see the package
// documentation). On any error the file is untouched and no temporary
// file is left. Errors are the os package's (naming the path), a
// [*DirError], or say what was found instead of a regular file; callers
// add their package prefix.
func (l *Locked) Write(data []byte, o Options) error {
	return replace(l.path, [][]byte{data}, o, nil, nil)
}

// WriteParts replaces the locked file with the concatenation of parts, as
// [Locked.Write] does, without joining them in memory first: a large file
// made mostly of what the caller already holds costs no copy of it.
func (l *Locked) WriteParts(parts [][]byte, o Options) error {
	return replace(l.path, parts, o, nil, nil)
}

// WriteIn replaces the file name in the locked directory with data, as
// [Locked.Write] does. It is how a set of files in one directory is
// written under one lock; name must be a plain file name.
func (l *Locked) WriteIn(name string, data []byte, o Options) error {
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
		return fmt.Errorf("%s: want a file name in the directory, got %q", l.path, name)
	}
	if l.stale == nil {
		l.stale = staleTemps(l.path)
	}
	stale := l.stale[name]
	if stale == nil {
		stale = []string{} // found none; do not read the directory again
	}
	delete(l.stale, name)
	return replace(filepath.Join(l.path, name), [][]byte{data}, o, nil, stale)
}

// Write locks path (waiting as [Lock] does), replaces it with data as
// [Locked.Write] does and unlocks it.
func Write(ctx context.Context, path string, data []byte, o Options) error {
	l, err := Lock(ctx, path)
	if err != nil {
		return err
	}
	defer l.Unlock()
	return l.Write(data, o)
}

// Update locks path (waiting as [Lock] does), reads it, and replaces it
// with what fn returns from its content, as [Locked.Write] does. A
// missing file is read as nil with exists false. If fn fails, or returns
// nil data and no error, the file is left as it is.
func Update(ctx context.Context, path string, fn func(old []byte, exists bool) ([]byte, error), o Options) error {
	l, err := Lock(ctx, path)
	if err != nil {
		return err
	}
	defer l.Unlock()
	old, err := os.ReadFile(l.path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	data, err := fn(old, exists)
	if err != nil || data == nil {
		return err
	}
	return l.Write(data, o)
}

// meta is what a replaced file keeps: its permission bits and, where the
// system has them, its owner and group.
type meta struct {
	mode     fs.FileMode
	uid, gid int
	owned    bool // uid and gid are known
}

// replace writes data, the concatenation of its parts, to path (resolved,
// locked by the caller). keep, if
// not nil, gives the mode and owner to write with (a backup's); otherwise
// an existing file's are kept and a new file gets o.Mode. stale, if not
// nil, names the stale temporary files of path already found in its
// directory; otherwise the directory is read for them.
func replace(path string, data [][]byte, o Options, keep *meta, stale []string) (err error) {
	fi, statErr := os.Stat(path)
	switch {
	case statErr == nil:
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: want a regular file, found %v", path, fi.Mode().Type())
		}
	case !errors.Is(statErr, fs.ErrNotExist):
		return statErr
	}
	m := keep
	switch {
	case m != nil:
	case statErr == nil:
		m = metaOf(fi)
	default:
		mode := o.Mode.Perm()
		if mode == 0 {
			mode = 0o600
		}
		m = &meta{mode: mode}
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if stale == nil {
		stale = staleTemps(dir)[base]
	}
	for _, name := range stale {
		os.Remove(filepath.Join(dir, name))
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return writable(err, dir, path)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if afterTemp != nil {
		afterTemp()
	}
	if m.owned {
		if _, err = chown(tmp, m); err != nil {
			return err
		}
	}
	// After chown, which may clear mode bits.
	if err = tmp.Chmod(m.mode); err != nil {
		return err
	}
	for _, part := range data {
		if _, err = tmp.Write(part); err != nil {
			return err
		}
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if o.Backup != "" && statErr == nil {
		old, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err = replace(path+o.Backup, [][]byte{old}, Options{}, metaOf(fi), nil); err != nil {
			return err
		}
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// afterTemp, if set, runs once the temporary file exists: tests use it to
// kill a writer there.
var afterTemp func()

// chown gives f m's owner and group and reports whether it did. Without
// the privilege to do so (EPERM), a process that is not root keeps its
// own owner and group; root fails.
func chown(f *os.File, m *meta) (bool, error) {
	err := f.Chown(m.uid, m.gid)
	if err != nil && errors.Is(err, fs.ErrPermission) && os.Geteuid() != 0 {
		return false, nil
	}
	return err == nil, err
}

// dirReads counts the directory reads of staleTemps, for a test that
// writing n files in one directory reads it once.
var dirReads atomic.Int64

// staleTemps returns, per file name, the temporary files a killed writer
// left in dir: regular files named ".BASE.tmp-" and digits, as
// os.CreateTemp names them for [replace]. [replace] removes those of the
// file it writes, whose lock the caller holds, so none of them is being
// written. Errors are ignored: a temporary file that stays is only wasted
// space, and the write itself reports a directory it cannot use.
func staleTemps(dir string) map[string][]string {
	dirReads.Add(1)
	des, err := os.ReadDir(dir)
	if err != nil {
		return map[string][]string{}
	}
	m := make(map[string][]string)
	for _, de := range des {
		name := de.Name()
		i := strings.LastIndex(name, ".tmp-")
		if !strings.HasPrefix(name, ".") || i < 1 || !de.Type().IsRegular() {
			continue
		}
		base, rest := name[1:i], name[i+len(".tmp-"):]
		if base == "" || rest == "" || strings.Trim(rest, "0123456789") != "" {
			continue
		}
		m[base] = append(m[base], name)
	}
	return m
}

// SyncDir makes a rename in dir durable. File systems that cannot sync a
// directory are let be: the rename is still atomic there, only its
// durability is the file system's.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
