package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCampaignRunsTheTemporalProgram: certroll campaign runs
// certroll-temporal from PATH with the same arguments, its output and its
// exit code; without it, exit 2 says how to install it.
func TestCampaignRunsTheTemporalProgram(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)

	var stdout, stderr bytes.Buffer
	code := run([]string{"campaign", "status", "new-ca", "--json"}, strings.NewReader(""), &stdout, &stderr)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr.String(), "certroll-temporal, which is not beside certroll nor on PATH")
	assert.Contains(t, stderr.String(), "go install github.com/certroll/certroll/renewal/temporal/cmd/certroll-temporal@latest")

	script := "#!/bin/sh\necho \"args: $*\"\necho waiting >&2\nexit 3\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "certroll-temporal"), []byte(script), 0o755))
	stdout.Reset()
	stderr.Reset()
	code = run([]string{"campaign", "status", "new-ca", "--json", "-q"}, strings.NewReader(""), &stdout, &stderr)
	assert.Equal(t, exitWaiting, code, "the program's exit code is passed on")
	assert.Equal(t, "args: status new-ca --json -q\n", stdout.String(), "flags are the program's, not certroll's")
	assert.Equal(t, "waiting\n", stderr.String(), "nothing is added to the program's own message")

	stdout.Reset()
	code = run([]string{"campaign", "--help"}, strings.NewReader(""), &stdout, &stderr)
	assert.Equal(t, exitOK, code)
	assert.Contains(t, stdout.String(), "temporal server start-dev")
}
