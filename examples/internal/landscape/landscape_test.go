package landscape

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExplainNamesWhatAPersonKnows checks that a message of the renewal
// package naming an executor option reads, as the examples print it, with
// the example's flag or file instead of a Go name.
func TestExplainNamesWhatAPersonKnows(t *testing.T) {
	goName := regexp.MustCompile(`\b[A-Z][a-z]+\.[A-Z][A-Za-z]+\b|HandOverDir`)
	tests := []struct{ msg, want string }{
		{"less than the drain of 500ms (Executor.Drain) before 09:00", "less than the drain of 500ms (-drain) before 09:00"},
		{"the executor's clock (Executor.Now) did not advance", "the executor's clock did not advance"},
		{"renewal: Executor.OldRoot is \"CN=x\"", "renewal: the old CA's root certificate (old-ca/ca.pem) is \"CN=x\""},
		{"nor among the receiver's roots; give it in Executor.OldRoot: x", "nor among the receiver's roots; the example gives it from old-ca/ca.pem in the landscape's directory: x"},
		{"give the HandOverDir of the run", "give the hand-over directory of the run"},
	}
	for _, tc := range tests {
		got := Explain(fmt.Errorf("wrapped: %w", errors.New(tc.msg)))
		assert.Equal(t, "wrapped: "+tc.want, got)
		assert.NotRegexp(t, goName, got)
	}
	assert.Empty(t, Explain(nil))
}

// TestFindProgramsSaysHowToInstall looks for the real landscape's
// programs where there are none: the error names both and gives the
// apt-get line.
func TestFindProgramsSaysHowToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := findPrograms(t.TempDir())
	var me *MissingProgramsError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, []string{"nginx", "java"}, me.Missing)
	assert.Contains(t, err.Error(), "install it: apt-get install -y nginx openjdk-17-jdk-headless")

	// A program in one of the directories is found there.
	dir := t.TempDir()
	for _, name := range []string{"nginx", "java"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755))
	}
	p, err := findPrograms(dir)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "nginx"), p.Nginx)
	assert.Equal(t, filepath.Join(dir, "java"), p.Java)
}
