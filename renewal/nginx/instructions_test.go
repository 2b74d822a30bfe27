package nginx

import (
	"context"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// landscapePlan is the plan renewing the landscape's old client
// certificate by its new one.
func landscapePlan(t *testing.T, l *landscape, seq renewal.Sequence) *renewal.Plan {
	t.Helper()
	p := renewal.Params{
		Alias: "client", Keystore: filepath.Join(l.dir, "tenant.p12"), KeystoreFormat: "PKCS12",
		Nodes:              []string{"node-1"},
		OldFingerprint:     keystore.CertFingerprint(l.oldClient.Leaf).Hex(),
		NewFingerprint:     keystore.CertFingerprint(l.newClient.Leaf).Hex(),
		OldRootSubject:     l.oldCA.cert.Subject.String(),
		OldRootFingerprint: keystore.CertFingerprint(l.oldCA.cert).Hex(),
		NewRootSubject:     l.newCA.cert.Subject.String(),
		NewRootFingerprint: keystore.CertFingerprint(l.newCA.cert).Hex(),
	}
	if seq == renewal.SequenceDowntime {
		p.Window = renewal.Window{Description: "now"}
	}
	plan, err := renewal.Build(seq, p)
	require.NoError(t, err)
	return plan
}

// section returns the runbook's checklist item of step n, up to the next
// item or heading.
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

func step(t *testing.T, p *renewal.Plan, id renewal.StepID) renewal.Step {
	t.Helper()
	for _, s := range p.Steps {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no step %q", id)
	return renewal.Step{}
}

// runLines runs the lines as one shell script (sh -e: a failing command
// stops it) in dir, and returns its output.
func runLines(t *testing.T, dir string, lines []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-e", "-c", strings.Join(lines, "\n"))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the runbook's lines:\n%s\noutput:\n%s", strings.Join(lines, "\n"), out)
	return string(out)
}

// handDir is a directory with the files the runbook's lines name.
func handDir(t *testing.T, l *landscape) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, der []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	}
	write("new-root.pem", l.newCA.cert.Raw)
	write("old-root.pem", l.oldCA.cert.Raw)
	write("old-client.pem", l.oldClient.Leaf.Raw)
	// The new client certificate with its chain, as step 2 hands it over,
	// and its key, for the gate's curl line.
	writeCertKey(t, filepath.Join(dir, "new-client.pem"), filepath.Join(dir, "new-client.key"), l.newClient)
	writeServerCA(t, l, dir)
	return dir
}

// eventually polls until ok, with a generous deadline: nginx's reload is
// asynchronous, and a person running the lines waits for it too.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		require.True(t, time.Now().Before(deadline), "%s", what)
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInstructionsInRunbook checks that the runbook names the nginx
// commands under the receiver's steps of both sequences, with the
// configured paths.
func TestInstructionsInRunbook(t *testing.T) {
	l := startNginx(t)
	ca, pinMap := filepath.Join(l.dir, "client-ca.pem"), filepath.Join(l.dir, "pinned-clients.map")
	test := l.rcv.cfg.Nginx + " -p " + l.dir + " -c " + l.conf + " -t"
	reload := l.rcv.cfg.Nginx + " -p " + l.dir + " -c " + l.conf + " -s reload"
	names := "openssl s_client -connect " + l.addr + " </dev/null 2>/dev/null | sed -n '/Acceptable client certificate CA names/,/Requested Signature/p'"
	for _, tc := range []struct {
		seq              renewal.Sequence
		configure, clean int
	}{
		{renewal.SequenceOverlap, 3, 9},
		{renewal.SequenceDowntime, 8, 12},
	} {
		t.Run(string(tc.seq), func(t *testing.T) {
			md := landscapePlan(t, l, tc.seq).Markdown(l.rcv)
			conf := section(t, md, tc.configure)
			assert.Contains(t, conf, "By hand:")
			assert.Contains(t, conf, "`cat new-root.pem >> "+ca+"`")
			assert.Contains(t, conf, "`openssl x509 -in new-client.pem -noout -fingerprint -sha1 | sed 's/.*=//; s/://g' | tr A-F a-f | sed 's/$/ 1;/' >> "+pinMap+"`")
			assert.Contains(t, conf, "`"+test+"`")
			assert.Contains(t, conf, "`"+reload+"`")
			assert.Contains(t, conf, "`"+names+"`")
			assert.Less(t, strings.Index(conf, test), strings.Index(conf, reload), "nginx -t before the reload")
			if tc.seq == renewal.SequenceDowntime {
				assert.Contains(t, conf, "old-client.pem", "the swap removes the old pin")
			} else {
				assert.NotContains(t, conf, "old-client.pem", "the overlap keeps the old pin")
			}
			clean := section(t, md, tc.clean)
			assert.Contains(t, clean, "old-root.pem")
			assert.Contains(t, clean, "old-client.pem")
			assert.Contains(t, clean, "`"+reload+"`")
			assert.NotContains(t, clean, "cat new-root.pem")
			for _, s := range landscapePlan(t, l, tc.seq).Steps {
				if s.Number != tc.configure && s.Number != tc.clean && (s.Gate == nil || s.Gate.Kind == renewal.GateNodesPresentNew || s.Gate.Kind == renewal.GateOldRootUnused) {
					assert.Nil(t, l.rcv.Instructions(s), "nothing for step %d", s.Number)
				}
			}
		})
	}
	gate := section(t, landscapePlan(t, l, renewal.SequenceOverlap).Markdown(l.rcv), 5)
	assert.Contains(t, gate, "`curl -sS -o /dev/null -w '%{http_code}\\n' --cert new-client.pem --key new-client.key --cacert server-ca.pem https://"+l.addr+"/`")
}

// TestInstructionsRunAgainstNginx runs the printed lines with sh against a
// real nginx: the overlap's step 3 makes nginx accept the new client and
// advertise the new root, step 9 removes the old pin and root; the
// downtime's step 8 swaps the pins.
func TestInstructionsRunAgainstNginx(t *testing.T) {
	t.Run("overlap", func(t *testing.T) {
		l := startNginx(t)
		dir := handDir(t, l)
		plan := landscapePlan(t, l, renewal.SequenceOverlap)
		lines := l.rcv.Instructions(step(t, plan, renewal.StepReceiverAcceptBoth))
		runLines(t, dir, lines)
		eventually(t, "nginx accepts the new client after the printed reload", func() bool {
			s, err := l.get(t, l.newClient)
			return err == nil && s == 200
		})
		assert.Equal(t, 200, l.status(t, l.oldClient), "and still the old one")
		eventually(t, "the printed s_client line shows the new root's name", func() bool {
			out := runLines(t, dir, lines[len(lines)-1:])
			return strings.Contains(out, "Acceptable client certificate CA names") && strings.Contains(out, "CN = New Client Root") && strings.Contains(out, "CN = Old Client Root")
		})
		require.NoError(t, l.rcv.Accepts(context.Background(), chainOf(l.newClient)), "the receiver reads the hand edits")

		// The gate's curl line presents the new chain.
		gate := l.rcv.Instructions(step(t, plan, renewal.StepSwapEntry))
		var curl string
		for _, line := range gate {
			if strings.HasPrefix(line, "curl ") {
				curl = line
			}
		}
		require.NotEmpty(t, curl)
		// An old worker may still take a connection until the printed
		// reload completes: the eventually above saw one new worker.
		eventually(t, "the gate's curl line gets 200", func() bool {
			return runLines(t, dir, []string{curl}) == "200\n"
		})

		runLines(t, dir, l.rcv.Instructions(step(t, plan, renewal.StepRemoveOld)))
		eventually(t, "nginx refuses the old client after the printed reload", func() bool {
			s, err := l.get(t, l.oldClient)
			return err == nil && s == 400
		})
		assert.Equal(t, 200, l.status(t, l.newClient))
		roots, err := l.rcv.Roots()
		require.NoError(t, err)
		require.Len(t, roots, 1)
		assert.Equal(t, l.newCA.cert.Raw, roots[0].Raw, "the awk line removed the old root's block only")
		m := string(mustRead(t, filepath.Join(l.dir, "pinned-clients.map")))
		assert.NotContains(t, m, sha1Line(l.oldClient.Leaf))
		assert.Contains(t, m, sha1Line(l.newClient.Leaf))
		assert.Contains(t, m, "# pinned by hand\n")
	})
	t.Run("downtime", func(t *testing.T) {
		l := startNginx(t)
		dir := handDir(t, l)
		plan := landscapePlan(t, l, renewal.SequenceDowntime)
		runLines(t, dir, l.rcv.Instructions(step(t, plan, renewal.StepReceiverSwap)))
		eventually(t, "nginx accepts the new client after the printed reload", func() bool {
			s, err := l.get(t, l.newClient)
			return err == nil && s == 200
		})
		// An old worker may still take a connection while the reload
		// completes; the new configuration must refuse the old pin.
		eventually(t, "the old pin is gone; its root is still trusted", func() bool {
			s, err := l.get(t, l.oldClient)
			return err == nil && s == 403
		})
	})
}

func writeServerCA(t *testing.T, l *landscape, dir string) {
	t.Helper()
	// The landscape's server root is in the pool only; the test wrote the
	// server's chain, whose last certificate is that root.
	data := mustRead(t, filepath.Join(l.dir, "server.pem"))
	var last []byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		last = pem.EncodeToMemory(b)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "server-ca.pem"), last, 0o644))
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
