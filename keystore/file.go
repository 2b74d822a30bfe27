package keystore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/certroll/certroll/internal/atomicfile"
	"github.com/certroll/certroll/keystore/internal/jksguard"
	p12 "github.com/certroll/certroll/keystore/internal/pkcs12"
)

// defaultLockTimeout is how long [Store.Save] waits for a keystore file's
// lock, and [Update] and [LockFile] wait when their context has no
// deadline, before they fail with an error matching [ErrLocked]: long enough for any
// edit another process makes (they take milliseconds), short enough that
// a forgotten holder is reported rather than waited for forever.
const defaultLockTimeout = atomicfile.DefaultTimeout

// NotifyLockWait returns a context that makes [Update] and [LockFile]
// call fn once with the lock file's path when they find the lock held by
// another process and start to wait, for example to print "waiting for
// the lock on FILE held by another process". fn must not block for long.
func NotifyLockWait(ctx context.Context, fn func(lockFile string)) context.Context {
	return atomicfile.WithWaitHook(ctx, fn)
}

// Save marshals the store with password and writes it to path atomically,
// under path's lock (path+".lock", as [Update] takes it; Save waits for it
// up to a minute): the bytes go to a temporary file in the
// same directory, which is synced and renamed over path, and then the
// directory is synced. A reader sees the old file or the new one, never a
// mix. An existing file keeps its permission bits, owner and group (the
// owner and group when the process may set them: as root, or its own); a
// new file is created 0600 (it holds private keys). If path is a symbolic
// link, the file it points to is replaced and the link stays.
// [SaveOptions.Backup] keeps the replaced file, with the file's mode and
// owner. On any error path is untouched and no temporary file is left; a
// temporary file that a killed writer left beside path is removed. opts
// may be nil.
//
// Save takes the lock that [Update] takes, so a Save never lands in the
// middle of an Update. But the lock is held only while Save writes: a
// store read with [Open] and saved later overwrites what other processes
// changed in between. To read, change and save a file that others may
// edit, use [Update], or hold the lock with [LockFile] from before the
// Open to the [Store.SaveLocked].
func (s *Store) Save(path string, password []byte, opts *SaveOptions) error {
	l, err := LockFile(context.Background(), path)
	if err != nil {
		return err
	}
	defer l.Unlock()
	return s.SaveLocked(l, password, opts)
}

// A FileLock is the lock of a keystore file, taken with [LockFile]. While
// it is held, [Update] and [Store.Save] of the same file (in any process,
// this one included) wait; the holder saves with [Store.SaveLocked]. A
// FileLock is not safe for concurrent use.
type FileLock struct{ l *atomicfile.Locked }

// LockFile takes the exclusive lock of the keystore file at path, the one
// [Update] and [Store.Save] take (the file path+".lock", beside the file
// path points to if it is a symbolic link; it is left in place
// afterwards, and removing it while nobody holds it is harmless). If
// another process holds it, LockFile waits until ctx is done, or for
// a minute if ctx has no deadline (see [NotifyLockWait]);
// then it returns an error matching [ErrLocked] that names the lock file. The file need not exist. The caller
// must call [FileLock.Unlock].
//
// It is for a caller that [Update] does not serve, such as one that
// converts a store to another format or password in place, to read and
// write a file without losing other processes' changes:
//
//	l, err := keystore.LockFile(ctx, path)
//	...
//	defer l.Unlock()
//	s, err := keystore.Open(path, password, nil)
//	... change s ...
//	err = s.SaveLocked(l, newPassword, nil)
//
// Calling [Update] or [Store.Save] on the same file while holding its
// lock waits for the lock held, so it fails after its timeout.
func LockFile(ctx context.Context, path string) (*FileLock, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultLockTimeout)
		defer cancel()
	}
	l, err := atomicfile.Lock(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return &FileLock{l}, nil
}

// Unlock releases the lock.
func (l *FileLock) Unlock() error { return l.l.Unlock() }

// SaveLocked marshals the store with password and writes it to the file
// whose lock l is, as [Store.Save] does, without taking the lock again.
// opts may be nil.
func (s *Store) SaveLocked(l *FileLock, password []byte, opts *SaveOptions) error {
	var backup string
	if opts != nil {
		backup = opts.Backup
	}
	if c, ok := s.codec.(*jksCodec); ok {
		// A JKS file is written from the parts Marshal would join, most
		// of them ranges of the file read: saving a large store costs no
		// copy of it.
		parts, err := c.parts(s, password, true)
		if err != nil {
			return err
		}
		if len(parts) > maxWriteParts {
			parts = [][]byte{bytes.Join(parts, nil)} // many small writes cost more than a copy
		}
		return writeLocked(l, parts, backup)
	}
	data, err := s.Marshal(password)
	if err != nil {
		return err
	}
	return writeLocked(l, [][]byte{data}, backup)
}

// maxWriteParts is how many parts SaveLocked writes one by one (a system
// call each) before it joins them.
const maxWriteParts = 64

// writeLocked replaces l's file with the concatenation of parts as
// described for [Store.Save].
func writeLocked(l *FileLock, parts [][]byte, backup string) error {
	if err := l.l.WriteParts(parts, atomicfile.Options{Mode: 0o600, Backup: backup}); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}

// lockPath returns the path of the lock file that [Update], [Store.Save]
// and [LockFile] hold while they write path: path + ".lock", beside the
// file path points to if it is a symbolic link. The lock file has the
// file's owner and group.
func lockPath(path string) string { return atomicfile.LockPath(path) }

// Update edits the keystore file at path under an exclusive advisory lock
// that every Update, [Store.Save] and [LockFile], in this process or
// another, respects. It waits for the lock until ctx is done, or for
// a minute if ctx has no deadline (then the error matches
// [ErrLocked]; see [NotifyLockWait] to hear of the wait). It opens the
// file with password and opts.StoreOptions, calls fn, checks that the
// result reads back with the same aliases, and saves it atomically as
// [Store.Save] does (keeping mode, owner and group, writing through a
// symbolic link). If fn or any step fails, the file is untouched and the
// error is returned. A missing file is an error unless
// [UpdateOptions.Create] names a format: then fn gets a new, empty store
// and the file is created. opts may be nil.
//
// The file is parsed once. The read-back check proves that the bytes about
// to be written open with password and list the same aliases, without
// repeating the work of opening the input: for JKS it walks the structure
// and checks the integrity digest; for PKCS#12 it checks the structure and
// the MAC, decrypts the certificates' SafeContents and reads the aliases
// from the bags, but does not decrypt keys (untouched keys are written as
// they were read, and Java does not decrypt them on load either).
//
// The lock is a file lock (flock on Unix, LockFileEx on Windows); it does
// not stop programs that ignore it, such as keytool, from writing the file.
func Update(ctx context.Context, path string, password []byte, fn func(*Store) error, opts *UpdateOptions) error {
	if opts == nil {
		opts = &UpdateOptions{}
	}
	if opts.Create != formatUnknown && opts.Create != JKS && opts.Create != PKCS12 {
		return fmt.Errorf("keystore: Update %q: UpdateOptions.Create is %v; want JKS, PKCS12 or none", path, opts.Create)
	}
	l, err := LockFile(ctx, path)
	if err != nil {
		return err
	}
	defer l.Unlock()

	s, err := openOrCreate(l.l.Path(), password, opts)
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
	return writeLocked(l, [][]byte{data}, opts.SaveOptions.Backup)
}

// openOrCreate opens the store at path for [Update], or returns a new one
// if the file is missing and opts says in which format to create it.
func openOrCreate(path string, password []byte, opts *UpdateOptions) (*Store, error) {
	s, err := Open(path, password, &opts.StoreOptions)
	if err == nil || opts.Create == formatUnknown || !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	s = New(opts.Create, &opts.StoreOptions)
	s.password = append([]byte(nil), password...)
	return s, nil
}

// check proves that data, the store marshalled with password, reads back
// with the store's aliases: see [Update] for what is checked.
func (s *Store) check(data, password []byte) error {
	got, err := readBackAliases(s.format, data, password)
	if err != nil {
		return fmt.Errorf("keystore: the updated store does not read back: %w", inner{err})
	}
	want := aliasSet(s.Aliases())
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

// readBackAliases returns the folded aliases a parse of data would list,
// after the cheapest checks that data opens with password: see
// [Update].
func readBackAliases(f Format, data, password []byte) (map[string]bool, error) {
	got, err := Sniff(data)
	if err != nil {
		return nil, err
	}
	if got != f {
		return nil, fmt.Errorf("keystore: want %v, marshalled %v", f, got)
	}
	if f == JKS {
		return jksAliases(data, password)
	}
	return pkcs12Aliases(data, password)
}

// jksAliases walks a JKS file, checks its digest and returns its aliases,
// as [parseJKS] reads them.
func jksAliases(data, password []byte) (map[string]bool, error) {
	f, err := jksguard.Walk(data)
	if err != nil {
		return nil, jksMalformed(err)
	}
	if err := jksCheckDigest(data, f.DigestOffset, password); err != nil {
		return nil, err
	}
	m := make(map[string]bool, len(f.Entries))
	for i := range f.Entries {
		m[fold(jksAlias(f.Entries[i].Alias))] = true
	}
	return m, nil
}

// pkcs12Aliases decodes a PKCS#12 file (structure, MAC, encrypted
// SafeContents; no key is decrypted) and returns the aliases of its
// entries, named as [parsePKCS12] names them (pkcs12Names).
func pkcs12Aliases(data, password []byte) (map[string]bool, error) {
	// Decode does not change its input.
	f, err := p12.Decode(data, password)
	if err != nil {
		return nil, pkcs12Error(err)
	}
	m := map[string]bool{}
	var names pkcs12Names
	for _, b := range f.Bags {
		if pkcs12KeyBag(b) || pkcs12TrustedBag(b) {
			name, _ := names.of(b)
			m[fold(name)] = true
		}
	}
	return m, nil
}

func aliasSet(aliases []string) map[string]bool {
	m := make(map[string]bool, len(aliases))
	for _, a := range aliases {
		m[fold(a)] = true
	}
	return m
}
