// Package atomicfile replaces files so that a reader, or a crash, never
// sees half of a write: the keystores, truststores, journals and receiver
// files of certroll are all written through it.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path with data: the bytes go to a temporary file in the
// same directory, which is synced and renamed over path, and then the
// directory is synced. A reader sees the old file or the new one, never a
// mix. An existing file keeps its permission bits; a new one gets mode
// (0600 for anything holding keys). If backup is not empty, the file being
// replaced is first copied to path+backup the same way. On any error path
// is untouched and no temporary file is left.
//
// Errors are the os package's (naming the path) or say what was found
// instead of a regular file; callers add their package prefix.
func Write(path string, data []byte, mode fs.FileMode, backup string) (err error) {
	fi, statErr := os.Stat(path)
	switch {
	case statErr == nil:
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: want a regular file, found %v", path, fi.Mode().Type())
		}
		mode = fi.Mode().Perm()
	case !errors.Is(statErr, fs.ErrNotExist):
		return statErr
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if backup != "" && statErr == nil {
		old, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err = Write(path+backup, old, mode, ""); err != nil {
			return err
		}
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return SyncDir(dir)
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
