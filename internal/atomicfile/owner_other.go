//go:build !unix

package atomicfile

import "io/fs"

// metaOf returns fi's permission bits; owners are not kept on this system.
func metaOf(fi fs.FileInfo) *meta { return &meta{mode: fi.Mode().Perm()} }
