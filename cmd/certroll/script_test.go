package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain makes the test binary run as certroll when a script calls it,
// so that the scripts run the real command, exit codes and all.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"certroll": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs testdata/script/*.txtar. A script that needs a real
// program starts with "[!need:keytool] skip": the condition is true when
// keytool is installed, false elsewhere (the script is skipped), and in CI
// (the environment variable CI set) a missing program fails the script
// with the apt-get line that installs it.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:       "testdata/script",
		Condition: need,
		Setup: func(e *testscript.Env) error {
			e.Setenv("CI", os.Getenv("CI"))
			return nil
		},
	})
}

// packages says which Debian package gives each program the scripts run.
var packages = map[string]string{
	"keytool": "openjdk-17-jdk-headless",
	"java":    "openjdk-17-jdk-headless",
	"openssl": "openssl",
	"nginx":   "nginx",
	"haproxy": "haproxy",
}

// need answers the condition need:PROGRAM.
func need(cond string) (bool, error) {
	prog, ok := strings.CutPrefix(cond, "need:")
	if !ok {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	if _, err := exec.LookPath(prog); err == nil {
		return true, nil
	}
	if _, err := os.Stat("/usr/sbin/" + prog); err == nil {
		return true, nil
	}
	if os.Getenv("CI") != "" {
		return false, fmt.Errorf("%s is not installed: apt-get install -y %s", prog, packages[prog])
	}
	return false, nil
}
