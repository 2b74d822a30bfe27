package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunOnce runs both sides once, so that the comparison keeps working:
// every step is timed on both sides and the ratio is printed.
func TestRunOnce(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(1, &out))
	text := out.String()
	for _, step := range append(steps, "total") {
		line := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(step) + `\s+(\S+)\s+(\S+)$`).FindStringSubmatch(text)
		require.NotNil(t, line, "no line for %q in:\n%s", step, text)
		assert.NotEqual(t, "0s", line[1], step)
		assert.NotEqual(t, "0s", line[2], step)
	}
	assert.Regexp(t, `certroll is \d+x faster; RSA key generation is \d+% of its time`, text)
	assert.True(t, strings.HasPrefix(text, "overlap renewal key and store work, median of 1 runs"))
}

func TestRunRejectsNoRuns(t *testing.T) {
	assert.ErrorContains(t, run(0, &bytes.Buffer{}), "at least 1")
}
