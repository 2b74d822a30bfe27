package keystore

import (
	"fmt"

	"github.com/gofrs/flock"

	"github.com/certroll/certroll/internal/atomicfile"
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
func writeFileAtomic(path string, data []byte, backup string) error {
	if err := atomicfile.Write(path, data, 0o600, backup); err != nil {
		return fmt.Errorf("keystore: %w", err)
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
