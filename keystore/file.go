package keystore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gofrs/flock"
)

// Save marshals the store with password and writes it to path atomically:
// the bytes go to a temporary file in the same directory, which is synced
// and renamed over path, and then the directory is synced. A reader sees
// the old file or the new one, never a mix. An existing file keeps its
// permission bits; a new file is created 0600 (it holds private keys).
// [WithBackup] keeps the replaced file. On any error path is untouched.
func (s *Store) Save(path string, password []byte, opts ...Option) error {
	o := s.opts.with(opts)
	data, err := s.Marshal(password)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data, o.backup)
}

// writeFileAtomic replaces path with data as described for [Store.Save].
func writeFileAtomic(path string, data []byte, backup string) (err error) {
	mode := fs.FileMode(0o600)
	fi, statErr := os.Stat(path)
	switch {
	case statErr == nil:
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("keystore: %s: want a regular file, found %v", path, fi.Mode().Type())
		}
		mode = fi.Mode().Perm()
	case !errors.Is(statErr, fs.ErrNotExist):
		return fmt.Errorf("keystore: %w", statErr)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if backup != "" && statErr == nil {
		if err = copyFile(path, path+backup, mode); err != nil {
			return err
		}
	}
	if err = os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return syncDir(dir)
}

// copyFile copies src to dst (replacing it atomically) with mode.
func copyFile(src, dst string, mode fs.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("keystore: backup: %w", err)
	}
	return writeFileAtomic(dst, data, "")
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		// Some file systems cannot sync a directory; the rename is still
		// atomic there, only its durability is the file system's.
		return fmt.Errorf("keystore: sync %s: %w", dir, err)
	}
	return nil
}

// LockPath returns the path of the lock file that [Update] holds while it
// edits path: path + ".lock". The lock file is left in place afterwards;
// removing it while no Update runs is harmless.
func LockPath(path string) string { return path + ".lock" }

// Update edits the keystore file at path under an exclusive advisory lock
// (see [LockPath]) that every Update, in this process or another, respects:
// it opens the file with password, calls fn, checks that the result
// marshals and parses back to the same aliases, and saves it atomically
// as [Store.Save] does. If fn or any step fails, the file is untouched and
// the error is returned. A missing file is an error; create a store with
// [New] and [Store.Save] first.
//
// The lock is a file lock (flock on Unix, LockFileEx on Windows); it does
// not stop programs that ignore it, such as keytool, from writing the file.
func Update(path string, password []byte, fn func(*Store) error, opts ...Option) error {
	lk := flock.New(LockPath(path))
	if err := lk.Lock(); err != nil {
		return fmt.Errorf("keystore: lock %s: %w", LockPath(path), err)
	}
	defer lk.Unlock()

	s, err := Open(path, password, opts...)
	if err != nil {
		return err
	}
	if err := fn(s); err != nil {
		return err
	}
	data, err := s.Marshal(password)
	if err != nil {
		return err
	}
	if err := s.check(data, password); err != nil {
		return err
	}
	return writeFileAtomic(path, data, s.opts.backup)
}

// check parses data back and compares its aliases with the store's.
func (s *Store) check(data, password []byte) error {
	back, err := Parse(data, password, func(o *options) { *o = s.opts })
	if err != nil {
		return fmt.Errorf("keystore: the updated store does not read back: %w", err)
	}
	want, got := aliasSet(s.Aliases()), aliasSet(back.Aliases())
	if len(want) != len(got) {
		return fmt.Errorf("keystore: the updated store reads back with %d entries, want %d", len(got), len(want))
	}
	for a := range want {
		if !got[a] {
			return fmt.Errorf("keystore: the updated store reads back without alias %q", a)
		}
	}
	return nil
}

func aliasSet(aliases []string) map[string]bool {
	m := make(map[string]bool, len(aliases))
	for _, a := range aliases {
		m[fold(a)] = true
	}
	return m
}
