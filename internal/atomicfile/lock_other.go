//go:build !unix

package atomicfile

import (
	"io/fs"
	"os"

	"github.com/gofrs/flock"
)

// lockOpenFlags are the extra flags for opening a lock file; none here.
const lockOpenFlags = 0

// singleLink reports whether fi has one link; not known here.
func singleLink(fs.FileInfo) bool { return true }

// osLock is the system's file lock (LockFileEx on Windows) on the lock
// file, through gofrs/flock.
type osLock struct {
	f  *os.File
	fl *flock.Flock
}

func newOSLock(f *os.File, path string) *osLock {
	return &osLock{f: f, fl: flock.New(path, flock.SetFlag(os.O_RDONLY))}
}

func (l *osLock) try() (bool, error) { return l.fl.TryLock() }

func (l *osLock) unlock() error { return l.fl.Unlock() }

func (l *osLock) close() error {
	l.fl.Close()
	return l.f.Close()
}

// isSymlinkRefused reports whether an open was refused for a symbolic
// link; links are not refused here.
func isSymlinkRefused(error) bool { return false }
