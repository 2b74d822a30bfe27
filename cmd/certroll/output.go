package main

import (
	"encoding/json"
	"fmt"
)

// writeJSON writes v as one indented JSON document to stdout.
func (e *env) writeJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// A store is large, and reading it prints progress lines, from 1 MiB or
// 1000 entries on: below that it reads in a blink, above it (every entry
// parsed, every key decrypted with the password's KDF) a person waits
// long enough to wonder whether anything happens.
const (
	largeStoreBytes   = 1 << 20
	largeStoreEntries = 1000
)

// readingStore says that a large store is being read.
func (e *env) readingStore(path string, size int) {
	if size >= largeStoreBytes {
		e.progress("Reading %s (%s) ...", path, byteSize(size))
	}
}

// readStore says how many entries a large store held.
func (e *env) readStore(path string, size, entries int) {
	if size >= largeStoreBytes || entries >= largeStoreEntries {
		e.progress("Read %d entries from %s (%s).", entries, path, byteSize(size))
	}
}

func byteSize(n int) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d KiB", (n+1023)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
