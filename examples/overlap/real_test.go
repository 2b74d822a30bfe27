package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/examples/internal/landscape"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
)

// needReal fails the test in CI, saying how to install them, when nginx
// or java is missing, and skips it elsewhere.
func needReal(t *testing.T) {
	t.Helper()
	if _, err := landscape.FindPrograms(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// realConfig is a bounded run of the real landscape: 3 JVM nodes at 20
// requests a second each, a drain longer than nginx's one-second log
// resolution.
func realConfig(t *testing.T) *landscape.Flags {
	return &landscape.Flags{Format: keystore.JKS, Nodes: 3, Rate: 20, StepPause: 300 * time.Millisecond,
		Drain: 2 * time.Second, Real: true, Dir: t.TempDir()}
}

// TestRealOverlapLosesNoRequest runs the overlap renewal against a real
// nginx, reloaded four times while three JVM nodes send requests: not one
// request fails, every node presents the old certificate until its
// restart and the new one after it, and nginx's files end with the new
// root and the new pin only. nginx is stopped at the end.
func TestRealOverlapLosesNoRequest(t *testing.T) {
	needReal(t)
	cfg := realConfig(t)
	var out bytes.Buffer
	sum, err := renew(context.Background(), cfg, &out)
	require.NoError(t, err, out.String())
	assert.Equal(t, "real", sum.Landscape)
	assert.Equal(t, sum.StepsTotal, sum.StepsCompleted)
	assert.Positive(t, sum.RequestsTotal)
	assert.Zero(t, sum.RequestsFailed, "the overlap sequence loses no request across nginx's reloads")
	assertCounted(t, sum)
	assertOldThenNew(t, sum, cfg.Nodes)
	assertNginxEndsWithNewOnly(t, cfg.Dir, sum)
}

// assertNginxEndsWithNewOnly checks nginx's files in the landscape dir:
// the client-CA bundle holds the new root only, the pin map pins the new
// client certificate only, and nginx no longer runs.
func assertNginxEndsWithNewOnly(t *testing.T, dir string, sum *landscape.Summary) {
	t.Helper()
	ks, err := keystore.Open(sum.Keystore, landscape.Password, nil)
	require.NoError(t, err)
	chain, err := ks.Certificates(landscape.Alias)
	require.NoError(t, err)
	require.Equal(t, sum.NewFingerprint, keystore.CertFingerprint(chain[0]).Hex(), "the live alias holds the new certificate")

	bundle, err := truststore.Open(filepath.Join(dir, "nginx", "client-ca.pem"), nil)
	require.NoError(t, err)
	roots := bundle.Certificates()
	require.Len(t, roots, 1, "the bundle holds one root")
	assert.True(t, roots[0].Equal(chain[len(chain)-1]), "the new root, %s", roots[0].Subject)

	data, err := os.ReadFile(filepath.Join(dir, "nginx", "pinned-clients.map"))
	require.NoError(t, err)
	var pins []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			pins = append(pins, line)
		}
	}
	sha := sha1.Sum(chain[0].Raw)
	assert.Equal(t, []string{hex.EncodeToString(sha[:]) + " 1;"}, pins, "the map pins the new certificate only")
	assert.Equal(t, []string{sum.NewFingerprint}, sum.AcceptedClients)

	pid, err := os.ReadFile(filepath.Join(dir, "nginx", "nginx.pid"))
	if err == nil { // nginx removes its pid file when it stops
		p, err := strconv.Atoi(strings.TrimSpace(string(pid)))
		require.NoError(t, err)
		assert.Error(t, syscall.Kill(p, 0), "nginx (pid %d) is stopped at the end", p)
	}
}
