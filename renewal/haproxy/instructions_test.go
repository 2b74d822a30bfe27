//go:build unix

package haproxy

import (
	"context"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func landscapePlan(t *testing.T, l *landscape, seq renewal.Sequence) *renewal.Plan {
	t.Helper()
	p := renewal.Params{
		Alias: "client", Keystore: filepath.Join(l.dir, "tenant.p12"), KeystoreFormat: "PKCS12", Nodes: []string{"node-1"},
		OldFingerprint:     keystore.CertFingerprint(l.oldClient.Cert).Hex(),
		NewFingerprint:     keystore.CertFingerprint(l.newClient.Cert).Hex(),
		OldRootSubject:     l.oldRoot.Cert.Subject.String(),
		OldRootFingerprint: keystore.CertFingerprint(l.oldRoot.Cert).Hex(),
		NewRootSubject:     l.newRoot.Cert.Subject.String(),
		NewRootFingerprint: keystore.CertFingerprint(l.newRoot.Cert).Hex(),
	}
	if seq == renewal.SequenceDowntime {
		p.Window = renewal.Window{Description: "now"}
	}
	plan, err := renewal.Build(seq, p)
	require.NoError(t, err)
	return plan
}

// section returns the runbook's checklist item of step n.
func section(t *testing.T, md string, n int) string {
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

// runLines runs lines as one script with sh -e in dir. The master-socket
// reload line needs socat: without it the test fails in CI (saying how to
// install it) and elsewhere sends the same "reload" to the master CLI
// itself.
func (l *landscape) runLines(t *testing.T, dir string, lines []string) {
	t.Helper()
	var script []string
	reloadByHand := false
	for _, line := range lines {
		if strings.Contains(line, "| socat stdio ") {
			if _, err := exec.LookPath("socat"); err != nil {
				const msg = "socat not found, the runbook's reload line needs it: install it: apt-get install -y socat"
				if os.Getenv("CI") != "" {
					t.Fatal(msg)
				}
				t.Log(msg + "; sending its reload to the master CLI instead")
				reloadByHand = true
				continue
			}
		}
		script = append(script, line)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-e", "-c", strings.Join(script, "\n"))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the runbook's lines:\n%s\noutput:\n%s", strings.Join(script, "\n"), out)
	if reloadByHand {
		require.NoError(t, masterCommand(ctx, l.socket, "reload"))
	}
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		require.True(t, time.Now().Before(deadline), "%s", what)
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInstructions checks the runbook's HAProxy commands under the
// receiver's steps of both sequences, then runs the printed lines of the
// overlap's steps 3 and 9 with sh against a real HAProxy.
func TestInstructions(t *testing.T) {
	t.Parallel()
	l := startHAProxy(t)
	check := l.rcv.cfg.HAProxy + " -c -f " + l.conf
	reload := "echo reload | socat stdio " + l.socket
	names := "openssl s_client -connect " + l.addr + " </dev/null 2>/dev/null | sed -n '/Acceptable client certificate CA names/,/Requested Signature/p'"
	for _, tc := range []struct {
		seq              renewal.Sequence
		configure, clean int
	}{{renewal.SequenceOverlap, 3, 9}, {renewal.SequenceDowntime, 8, 12}} {
		md := landscapePlan(t, l, tc.seq).Markdown(l.rcv)
		conf := section(t, md, tc.configure)
		assert.Contains(t, conf, "`cat new-root.pem >> "+l.caFile()+"`", tc.seq)
		assert.Contains(t, conf, "`openssl x509 -in new-client.pem -noout -fingerprint -sha1 | sed 's/.*=//; s/://g' >> "+l.aclFile()+"`", tc.seq)
		assert.Contains(t, conf, "`"+check+"`", tc.seq)
		assert.Contains(t, conf, "`"+reload+"`", tc.seq)
		assert.Contains(t, conf, "`"+names+"`", tc.seq)
		assert.Less(t, strings.Index(conf, check), strings.Index(conf, reload), "haproxy -c before the reload")
		clean := section(t, md, tc.clean)
		assert.Contains(t, clean, "old-root.pem", tc.seq)
		assert.Contains(t, clean, "old-client.pem", tc.seq)
		assert.Contains(t, clean, "`"+reload+"`", tc.seq)
	}
	signal, err := NewReceiver(Config{CAFile: l.caFile(), PinnedACL: l.aclFile(), ConfigFiles: []string{l.conf}, PidFile: l.pidFile, URL: l.url})
	require.NoError(t, err)
	assert.Contains(t, section(t, landscapePlan(t, l, renewal.SequenceOverlap).Markdown(signal), 3), "`kill -USR2 \"$(head -n 1 "+l.pidFile+")\"`")

	hand := t.TempDir()
	write := func(name string, data []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(hand, name), data, 0o600))
	}
	write("new-root.pem", testpki.PEM(l.newRoot.Cert))
	write("new-client.pem", testpki.PEM(l.newClient.Chain...))
	write("old-root.pem", testpki.PEM(l.oldRoot.Cert))
	write("old-client.pem", testpki.PEM(l.oldClient.Chain...))
	plan := landscapePlan(t, l, renewal.SequenceOverlap)

	l.runLines(t, hand, l.rcv.Instructions(planStep(t, plan, renewal.StepReceiverAcceptBoth)))
	eventually(t, "HAProxy accepts the new client after the printed reload", func() bool {
		s, err := l.get(l.newClient)
		return err == nil && s == 200
	})
	assert.Equal(t, 200, l.status(t, l.oldClient), "and still the old one")
	assert.ElementsMatch(t, []string{l.oldRoot.Cert.Subject.String(), l.newRoot.Cert.Subject.String()}, l.advertised(t))
	require.NoError(t, l.rcv.Accepts(context.Background(), chainOf(l.newClient, l.newRoot)), "the receiver reads the hand edits")

	l.runLines(t, hand, l.rcv.Instructions(planStep(t, plan, renewal.StepRemoveOld)))
	eventually(t, "HAProxy refuses the old client after the printed reload", func() bool {
		_, err := l.get(l.oldClient)
		return err != nil
	})
	assert.Equal(t, 200, l.status(t, l.newClient))
	assert.Equal(t, []string{l.newRoot.Cert.Subject.String()}, l.advertised(t))
	acl := string(readFile(t, l.aclFile()))
	assert.NotContains(t, acl, strings.ToUpper(sha1Hex(l.oldClient.Cert)))
	assert.Contains(t, acl, strings.ToUpper(sha1Hex(l.newClient.Cert)))
	assert.Contains(t, acl, "# pinned by hand\n")
}

func sha1Hex(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return hex.EncodeToString(sum[:])
}
