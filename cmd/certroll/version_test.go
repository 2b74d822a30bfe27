package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestVersionAndExitCodes(t *testing.T) {
	var out, errOut bytes.Buffer
	assert.Equal(t, exitOK, run([]string{"--version"}, nil, &out, &errOut))
	assert.Contains(t, out.String(), "certroll version")

	out.Reset()
	errOut.Reset()
	assert.Equal(t, exitUsage, run([]string{"--no-such-flag"}, nil, &out, &errOut))
	assert.Contains(t, errOut.String(), "unknown flag")

	errOut.Reset()
	assert.Equal(t, exitUsage, run([]string{"no-such-command"}, nil, &out, &errOut))
	assert.Contains(t, errOut.String(), "unknown command")
}
