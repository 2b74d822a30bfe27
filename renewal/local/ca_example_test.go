package local_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/certroll/certroll/renewal/local"
)

// A CA kept in a directory is the same CA when the program starts again,
// as a renewal that is interrupted and resumed needs: its root is named in
// the plan.
func ExampleNewCA() {
	dir, err := os.MkdirTemp("", "certroll-ca-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	cfg := local.CAConfig{Name: "New Root CA", Dir: filepath.Join(dir, "new-ca")}
	first, err := local.NewCA(cfg) // makes the CA and saves it
	if err != nil {
		fmt.Println(err)
		return
	}
	again, err := local.NewCA(cfg) // loads it
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(again)
	fmt.Println("same root:", again.Root().Equal(first.Root()))
	// Output:
	// local CA "CN=New Root CA,O=certroll example"
	// same root: true
}
