//go:build unix

package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// lockOpenFlags make opening a lock file safe in a directory another user
// can write: a symbolic link planted as the lock file is not followed
// (root would otherwise chown its target), and a FIFO does not block the
// open.
const lockOpenFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// singleLink reports whether fi has one link: a hard link to another file
// planted as the lock file is refused, as a symbolic link is.
func singleLink(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return !ok || st.Nlink == 1
}

// osLock is an flock on the open lock file itself, so that the file
// checked when it was opened is the file locked.
type osLock struct{ f *os.File }

func newOSLock(f *os.File, _ string) *osLock { return &osLock{f: f} }

// try takes the lock if no one holds it.
func (l *osLock) try() (bool, error) {
	err := l.flock(syscall.LOCK_EX | syscall.LOCK_NB)
	switch err {
	case nil:
		return true, nil
	case syscall.EWOULDBLOCK, syscall.EINTR:
		return false, nil
	}
	return false, &fs.PathError{Op: "flock", Path: l.f.Name(), Err: err}
}

func (l *osLock) unlock() error { return l.flock(syscall.LOCK_UN) }

func (l *osLock) close() error { return l.f.Close() }

func (l *osLock) flock(how int) error {
	rc, err := l.f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = syscall.Flock(int(fd), how) }); err != nil {
		return err
	}
	return ferr
}

// isSymlinkRefused reports whether opening with lockOpenFlags failed
// because the path is a symbolic link.
func isSymlinkRefused(err error) bool { return errors.Is(err, syscall.ELOOP) }
