package main

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/examples/internal/landscape"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/probe"
)

// TestStaleCANamesStopsBeforeTheSwap runs the overlap renewal against a
// receiver that trusts the new root from step 3 on but advertises only
// the old one, as HAProxy 2.6 does after set ssl ca-file and commit ssl
// ca-file without a reload. The probe of the gate before step 5 finds the
// new root's name missing: the run stops there, no request has failed,
// and the keystore still holds the old certificate, byte for byte. A run
// with the same directory against a receiver that advertises both (the
// reload) resumes and completes, every node going from the old
// certificate to the new.
func TestStaleCANamesStopsBeforeTheSwap(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(keystore.JKS)
	cfg.Dir, cfg.StaleCANames = dir, true
	// The landscape built first, so that the keystore is read before any
	// step can change it; the run then starts on it.
	l, err := landscape.Open(dir, testOptions(cfg))
	require.NoError(t, err)
	ks := l.Keystore
	before, err := os.ReadFile(ks)
	require.NoError(t, err)
	var out bytes.Buffer
	sum, err := renew(context.Background(), cfg, &out)

	require.ErrorIs(t, err, renewal.ErrGateFailed, out.String())
	assert.ErrorIs(t, err, probe.ErrNotAdvertised, "the probe names the missing CA name")
	assert.NotErrorIs(t, err, probe.ErrHandshake, "the receiver verifies the new certificate when it is presented")
	var ge *renewal.GateError
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, renewal.StepSwapEntry, ge.Step.ID, "the gate before the keystore's entry is replaced")
	assert.Equal(t, renewal.GateReceiverAcceptsBoth, ge.Step.Gate.Kind)
	var pe *probe.Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, []string{"CN=Old Root CA"}, pe.Result.AdvertisedNames())
	assert.Equal(t, "New Root CA", pe.Missing.Subject.CommonName)

	require.NotNil(t, sum)
	assert.Equal(t, ge.Step.Number-1, sum.StepsCompleted, "every step before the gate, none after")
	assert.Zero(t, sum.RequestsFailed, "the nodes present the old certificate throughout")
	assertCounted(t, sum)
	for _, n := range sum.Nodes {
		assert.Equal(t, []string{sum.OldFingerprint}, n.Presented, n.Name)
	}
	assert.True(t, sum.OldRootInTruststore)
	assert.True(t, sum.NewRootInTruststore, "the receiver trusts the new root: only its name is missing")
	after, readErr := os.ReadFile(ks)
	require.NoError(t, readErr)
	assert.Equal(t, before, after, "the keystore is untouched")
	assert.NoFileExists(t, ks+".history", "no entry was replaced")

	// What the example prints: the condition and what to do, in words.
	advice := staleNamesAdvice(err, dir)
	for _, want := range []string{
		"trusts the new root CN=New Root CA but does not advertise it",
		"names only CN=Old Root CA",
		"Java clients will not present the new certificate",
		"reload the receiver so that it advertises both the old and the new root",
		"go run ./examples/overlap -dir " + dir,
	} {
		assert.Contains(t, advice, want)
	}
	for _, goName := range []string{"AdvertiseOnly", "Executor", "Prober", "probe.", "renewal."} {
		assert.NotContains(t, advice, goName)
	}
	assert.Empty(t, staleNamesAdvice(context.Canceled, dir), "other errors get no advice")

	// The receiver reloaded: it advertises both roots. The same directory
	// resumes and completes.
	cfg.StaleCANames = false
	out.Reset()
	sum, err = renew(context.Background(), cfg, &out)
	require.NoError(t, err, out.String())
	assert.Contains(t, out.String(), "resuming the overlap renewal")
	assert.Equal(t, sum.StepsTotal, sum.StepsCompleted)
	assert.Zero(t, sum.RequestsFailed)
	assertOldThenNew(t, sum, cfg.Nodes)
	assert.False(t, sum.OldRootInTruststore)
}

// TestStaleCANamesCommandLine checks the flag's command line: the advice
// follows the error, and the real landscape refuses the flag.
func TestStaleCANamesCommandLine(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := command([]string{"-stale-ca-names", "-dir", dir, "-nodes", "2", "-rate", "50", "-step-pause", "20ms"}, &out, &errOut)
	assert.Equal(t, 1, code, "a stopped run exits 1")
	assert.Contains(t, errOut.String(), "but does not advertise it")
	assert.Contains(t, errOut.String(), "go run ./examples/overlap -dir "+dir)

	errOut.Reset()
	assert.Equal(t, 2, command([]string{"-stale-ca-names", "-landscape", "real"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "-stale-ca-names needs -landscape embedded")
}
