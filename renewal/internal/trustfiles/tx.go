package trustfiles

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/certroll/certroll/internal/atomicfile"
)

// Tx is an edit of several files that is applied or undone as a whole: each
// file is locked (internal/atomicfile) when first read and stays locked
// until [Tx.Close]; its original bytes are kept so that [Tx.Rollback] can
// put every edited file back byte for byte. A Tx is not safe for
// concurrent use.
type Tx struct {
	ctx   context.Context
	files []*txFile
	// beforeWrite, if not nil, runs once before the first write: Apply
	// writes its reload-pending marker there, before any file changes.
	beforeWrite func() error
}

type txFile struct {
	lock    *atomicfile.Locked
	orig    []byte
	existed bool
	written bool
}

// Begin starts a transaction whose lock waits end with ctx.
func Begin(ctx context.Context) *Tx { return &Tx{ctx: ctx} }

func (t *Tx) file(path string) (*txFile, error) {
	for _, f := range t.files {
		if f.lock.Path() == path {
			return f, nil
		}
	}
	resolved, err := atomicfile.Resolve(path)
	if err != nil {
		resolved = path
	}
	for _, f := range t.files {
		if f.lock.Path() == resolved {
			return f, nil
		}
	}
	l, err := atomicfile.Lock(t.ctx, path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(l.Path())
	existed := true
	if errors.Is(err, fs.ErrNotExist) {
		existed, err = false, nil
	}
	if err != nil {
		_ = l.Unlock()
		return nil, err
	}
	f := &txFile{lock: l, orig: data, existed: existed}
	t.files = append(t.files, f)
	return f, nil
}

// Read locks path (if this transaction has not yet) and returns the
// content it had then; exists is false for a missing file.
func (t *Tx) Read(path string) (data []byte, exists bool, err error) {
	f, err := t.file(path)
	if err != nil {
		return nil, false, err
	}
	return bytes.Clone(f.orig), f.existed, nil
}

// Write replaces path with data, atomically; a new file gets mode. Writing
// the bytes the file already has is skipped, and reported by changed.
func (t *Tx) Write(path string, data []byte, mode fs.FileMode) (changed bool, err error) {
	f, err := t.file(path)
	if err != nil {
		return false, err
	}
	if f.existed && bytes.Equal(f.orig, data) && !f.written {
		return false, nil
	}
	if t.beforeWrite != nil {
		if err := t.beforeWrite(); err != nil {
			return false, err
		}
		t.beforeWrite = nil
	}
	if err := f.lock.Write(data, atomicfile.Options{Mode: mode}); err != nil {
		return false, err
	}
	f.written = true
	return true, nil
}

// Changed reports whether the transaction has written a file.
func (t *Tx) Changed() bool {
	for _, f := range t.files {
		if f.written {
			return true
		}
	}
	return false
}

// Rollback puts every file written back as it was when first read: the
// original bytes, or no file for one that did not exist. It tries every
// file and joins the errors.
func (t *Tx) Rollback() error {
	var errs []error
	for i := len(t.files) - 1; i >= 0; i-- {
		f := t.files[i]
		if !f.written {
			continue
		}
		var err error
		if f.existed {
			err = f.lock.Write(f.orig, atomicfile.Options{})
		} else if err = os.Remove(f.lock.Path()); errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("restoring %q: %w", f.lock.Path(), err))
			continue
		}
		f.written = false
	}
	return errors.Join(errs...)
}

// Close releases every lock. It does not undo anything.
func (t *Tx) Close() error {
	var errs []error
	for _, f := range t.files {
		errs = append(errs, f.lock.Unlock())
	}
	t.files = nil
	return errors.Join(errs...)
}
