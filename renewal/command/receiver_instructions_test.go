package command

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/truststore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func instructionsPlan(t *testing.T, seq renewal.Sequence, oldChain, newChain []*x509.Certificate) *renewal.Plan {
	t.Helper()
	p := renewal.Params{
		Alias: "client", Keystore: "/srv/tenant/client.p12", KeystoreFormat: "PKCS12", Nodes: []string{"node-1"},
		OldFingerprint:     keystore.CertFingerprint(oldChain[0]).Hex(),
		NewFingerprint:     keystore.CertFingerprint(newChain[0]).Hex(),
		OldRootSubject:     oldChain[1].Subject.String(),
		OldRootFingerprint: keystore.CertFingerprint(oldChain[1]).Hex(),
		NewRootSubject:     newChain[1].Subject.String(),
		NewRootFingerprint: keystore.CertFingerprint(newChain[1]).Hex(),
	}
	if seq == renewal.SequenceDowntime {
		p.Window = renewal.Window{Description: "now"}
	}
	plan, err := renewal.Build(seq, p)
	require.NoError(t, err)
	return plan
}

// runbookSection returns the runbook's checklist item of step n.
func runbookSection(t *testing.T, md string, n int) string {
	t.Helper()
	start := strings.Index(md, fmt.Sprintf("- [ ] %d. ", n))
	require.GreaterOrEqual(t, start, 0, "step %d in the runbook", n)
	rest := md[start+1:]
	end := len(rest)
	for _, next := range []string{"\n- [ ] ", "\n## "} {
		if i := strings.Index(rest, next); i >= 0 && i < end {
			end = i
		}
	}
	return md[start : start+1+end]
}

func planStep(t *testing.T, p *renewal.Plan, id renewal.StepID) renewal.Step {
	t.Helper()
	for _, s := range p.Steps {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no step %q", id)
	return renewal.Step{}
}

func runScript(t *testing.T, dir string, lines []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-e", "-c", strings.Join(lines, "\n"))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the runbook's lines:\n%s\noutput:\n%s", strings.Join(lines, "\n"), out)
}

// TestReceiverInstructions checks that the runbook prints the command
// receiver's edits and its own check and reload commands, shell-quoted,
// under the receiver's steps of both sequences, and runs the printed lines
// with sh: openssl verify as the check, cp as the reload. The receiver then
// reads the hand edits as its own.
func TestReceiverInstructions(t *testing.T) {
	openssl := needProgram(t, "openssl", "openssl")
	cp := needProgram(t, "cp", "coreutils")
	oldCA, newCA := testpki.NewRoot(t, "Old Root CA"), testpki.NewRoot(t, "New Root CA")
	oldChain, newChain := append(oldCA.Leaf(t, "old client").Chain, oldCA.Cert), append(newCA.Leaf(t, "new client").Chain, newCA.Cert)
	dir := filepath.Join(t.TempDir(), "it's here") // a path the shell must quote
	require.NoError(t, os.MkdirAll(dir, 0o755))
	trust, list, live := filepath.Join(dir, "client-ca.pem"), filepath.Join(dir, "pinned.txt"), filepath.Join(dir, "live ca.pem")
	writePEM(t, trust, oldCA.Cert.Raw)
	require.NoError(t, os.WriteFile(list, []byte("# by hand\n"+keystore.CertFingerprint(oldChain[0]).String()+"\n"), 0o644))
	hand := t.TempDir()
	writePEM(t, filepath.Join(hand, "new-root.pem"), newCA.Cert.Raw)
	writePEM(t, filepath.Join(hand, "new-client.pem"), newChain[0].Raw)
	writePEM(t, filepath.Join(hand, "old-root.pem"), oldCA.Cert.Raw)
	writePEM(t, filepath.Join(hand, "old-client.pem"), oldChain[0].Raw)

	check := []string{openssl, "verify", "-no_check_time", "-CAfile", trust, filepath.Join(hand, "new-client.pem")}
	reload := []string{cp, trust, live}
	rcv, err := NewReceiver(Config{
		TrustFile: trust, TrustKind: truststore.PEMBundle, AcceptedList: list, AcceptedFormat: SHA256List,
		Check: check, Reload: reload, Now: func() time.Time { return testpki.Now },
	})
	require.NoError(t, err)
	quotedTrust := "'" + strings.ReplaceAll(trust, "'", `'\''`) + "'"
	checkLine := shellLine(check)
	reloadLine := shellLine(reload)
	require.Contains(t, checkLine, `'\''`, "the check's path is quoted")

	for _, tc := range []struct {
		seq              renewal.Sequence
		configure, clean int
	}{{renewal.SequenceOverlap, 3, 9}, {renewal.SequenceDowntime, 8, 12}} {
		md := instructionsPlan(t, tc.seq, oldChain, newChain).Markdown(rcv.Adapter())
		conf := runbookSection(t, md, tc.configure)
		assert.Contains(t, conf, "`cat new-root.pem >> "+quotedTrust+"`", tc.seq)
		assert.Contains(t, conf, "-fingerprint -sha256", tc.seq)
		assert.Contains(t, conf, "`"+checkLine+"`", tc.seq)
		assert.Contains(t, conf, "`"+reloadLine+"`", tc.seq)
		assert.Less(t, strings.Index(conf, checkLine), strings.Index(conf, reloadLine), "check before reload")
		clean := runbookSection(t, md, tc.clean)
		assert.Contains(t, clean, "old-root.pem", tc.seq)
		assert.Contains(t, clean, "`"+reloadLine+"`", tc.seq)
	}

	plan := instructionsPlan(t, renewal.SequenceOverlap, oldChain, newChain)
	runScript(t, hand, rcv.Instructions(planStep(t, plan, renewal.StepReceiverAcceptBoth)))
	require.NoError(t, rcv.Accepts(context.Background(), newChain), "the hand edits accept the new chain")
	require.NoError(t, rcv.Accepts(context.Background(), oldChain), "and still the old one")
	assert.Equal(t, mustReadFile(t, trust), mustReadFile(t, live), "the printed reload ran")

	runScript(t, hand, rcv.Instructions(planStep(t, plan, renewal.StepRemoveOld)))
	assert.Error(t, rcv.Accepts(context.Background(), oldChain), "the old chain is refused")
	require.NoError(t, rcv.Accepts(context.Background(), newChain))
	roots, err := rcv.Roots()
	require.NoError(t, err)
	require.Len(t, roots, 1)
	assert.Equal(t, newCA.Cert.Raw, roots[0].Raw)
	l, err := os.ReadFile(list)
	require.NoError(t, err)
	assert.NotContains(t, string(l), keystore.CertFingerprint(oldChain[0]).String())
	assert.Contains(t, string(l), "# by hand\n")

	// A truststore: keytool lines, no password on them.
	jks, err := NewReceiver(Config{TrustFile: filepath.Join(dir, "trust.jks"), TrustKind: truststore.JKS, TrustPassword: []byte("s3cret")})
	require.NoError(t, err)
	md := plan.Markdown(jks)
	assert.Contains(t, runbookSection(t, md, 3), "`keytool -importcert -noprompt -alias certroll-new-root -file new-root.pem -keystore "+quoted(filepath.Join(dir, "trust.jks"))+" -storetype JKS`")
	assert.Contains(t, runbookSection(t, md, 9), "keytool -list")
	assert.NotContains(t, md, "s3cret")
}

func quoted(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
