//go:build unix

package atomicfile

import (
	"io/fs"
	"syscall"
)

// metaOf returns fi's permission bits, owner and group.
func metaOf(fi fs.FileInfo) *meta {
	m := &meta{mode: fi.Mode().Perm()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		m.uid, m.gid, m.owned = int(st.Uid), int(st.Gid), true
	}
	return m
}
