package main

import (
	"encoding/json"
)

// writeJSON writes v as one indented JSON document to stdout.
func (e *env) writeJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
