package testpki

import (
	"fmt"
	"testing"
)

// exampleTB is the testing.TB that [ForExample] returns.
type exampleTB struct {
	testing.TB // nil: any method not overridden below panics
	name       string
}

func (e exampleTB) Helper()      {}
func (e exampleTB) Name() string { return e.name }
func (e exampleTB) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("testpki: "+e.name+": "+format, args...))
}

// ForExample returns a [testing.TB] for Example functions, which get none,
// so that they can use the builders. Its Fatalf panics with the message; its
// Name is name, which scopes the RSA key cache like a top-level test's name.
// Only Helper, Name and Fatalf may be called on it.
func ForExample(name string) testing.TB {
	return exampleTB{name: name}
}
