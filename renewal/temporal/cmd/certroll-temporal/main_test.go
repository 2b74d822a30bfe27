package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/haproxy"
	"github.com/certroll/certroll/renewal/local"
	"github.com/certroll/certroll/renewal/nginx"
	rtemporal "github.com/certroll/certroll/renewal/temporal"
)

func cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdout: &out, stderr: &errOut, dial: client.DialContext}
	cmd := e.root()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// freeAddress returns a loopback address nothing listens on.
func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestWithoutAServerEveryCommandSaysHowToStartOne(t *testing.T) {
	addr := freeAddress(t)
	for _, args := range [][]string{
		{"status", "new-ca"},
		{"list"},
		{"signal", "new-ca", "resume"},
	} {
		_, err := cli(t, append(args, "--address", addr)...)
		require.Error(t, err, "%v", args)
		assert.Contains(t, err.Error(), "no Temporal server answers at "+addr)
		assert.Contains(t, err.Error(), "temporal server start-dev")
	}
}

func TestSignalRefusesWhatNoWorkflowTakes(t *testing.T) {
	_, err := cli(t, "signal", "new-ca", "confirm", "confirm-accept-both", "--address", freeAddress(t))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "expected CAMPAIGN/RENEWAL confirm STEP")
}

// writePlan writes an overlap plan as certroll plan --json does.
func writePlan(t *testing.T, path string, edit func(p *renewal.Plan)) {
	t.Helper()
	fp := func(b byte) string { return strings.Repeat(string([]byte{'a' + b%6}), 64) }
	p, err := renewal.Build(renewal.SequenceOverlap, renewal.Params{
		Alias: "client", Keystore: "/srv/a/client.p12", Nodes: []string{"node-1"},
		OldFingerprint: fp(0), OldRootSubject: "CN=Old Root", OldRootFingerprint: fp(1),
		NewRootSubject: "CN=New Root", NewRootFingerprint: fp(2),
	})
	require.NoError(t, err)
	if edit != nil {
		edit(p)
	}
	data, err := json.Marshal(p)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o644))
}

func TestLoadCampaign(t *testing.T) {
	dir := t.TempDir()
	writePlan(t, filepath.Join(dir, "a.json"), nil)
	writePlan(t, filepath.Join(dir, "edited.json"), func(p *renewal.Plan) { p.Steps[4].Destructive = false })
	write := func(body string) string {
		path := filepath.Join(dir, "campaign.yaml")
		require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
		return path
	}
	c, err := loadCampaign(write(`name: new-ca
max_concurrent: 4
max_per_receiver: 2
pause_after: 1
defaults: {ca: new-ca, notifier: people, reply_timeout: 168h, step_timeout: 30m, confirm: {confirm-accept-both: 48h}}
renewals:
  - {name: tenant-a, plan: a.json, tenant: a, receiver: rcv-1, group: server-1, runtime: rt-a, drain: 10m}
`))
	require.NoError(t, err)
	require.Len(t, c.Renewals, 1)
	in := c.Renewals[0]
	assert.Equal(t, "new-ca", c.Name)
	assert.Equal(t, 4, c.MaxConcurrent)
	assert.Equal(t, "server-1", in.Group)
	assert.Equal(t, "new-ca", in.Adapters.CA)
	assert.Equal(t, 168*time.Hour, in.Options.ReplyTimeout)
	assert.Equal(t, 10*time.Minute, in.Options.Drain)
	assert.Equal(t, 30*time.Minute, in.Options.StepTimeout)
	require.Len(t, in.Options.Confirm, 1)
	assert.Equal(t, renewal.StepConfirmAcceptBoth, in.Options.Confirm[0].Step)

	for _, tc := range []struct{ name, body, want string }{
		{"edited plan", "name: x\nrenewals: [{name: a, plan: edited.json, tenant: a, ca: c, receiver: r, runtime: rt, notifier: n}]\n", "is not what certroll builds"},
		{"missing plan", "name: x\nrenewals: [{name: a, plan: nope.json, tenant: a, ca: c, receiver: r, runtime: rt, notifier: n}]\n", "certroll plan --json"},
		{"missing adapters", "name: x\nrenewals: [{name: a, plan: a.json}]\n", "expected tenant, ca, receiver, runtime, notifier"},
		{"unknown key", "name: x\nrenewal: []\n", "field renewal not found"},
		{"bad duration", "name: x\nrenewals: [{name: a, plan: a.json, tenant: a, ca: c, receiver: r, runtime: rt, notifier: n, drain: soon}]\n", `found "soon"`},
		{"confirm of an action", "name: x\nrenewals: [{name: a, plan: a.json, tenant: a, ca: c, receiver: r, runtime: rt, notifier: n, confirm: {swap-entry: 1h}}]\n", `"swap-entry" is not a hand-off step`},
		{"no name", "renewals: [{name: a, plan: a.json, tenant: a, ca: c, receiver: r, runtime: rt, notifier: n}]\n", "expected a campaign name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadCampaign(write(tc.body))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLoadWorker(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "worker.yaml")
	t.Setenv("I13_TENANT_PW", "s3cret")
	body := `task_queue: renewals
tenants:
  a: {keystore: /srv/a/client.p12, alias: client, password_env: I13_TENANT_PW}
cas:
  new-ca: {handoff_dir: ` + dir + `}
receivers:
  rcv-1: {trust_file: ` + filepath.Join(dir, "ca.pem") + `, accepted_list: ` + filepath.Join(dir, "pins.txt") + `, accepted_format: nginx-map, check: [true], reload: [true]}
runtimes:
  rt-a: {nodes: [{name: node-1, stop: [true], start: [true], restart: [true], presents: [cat, /dev/null]}]}
notifiers:
  people: {log: stderr}
`
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	acts, tq, err := loadWorker(path)
	require.NoError(t, err)
	assert.Equal(t, "renewals", tq)
	assert.Len(t, acts.Tenants, 1)
	assert.Len(t, acts.CAs, 1)
	assert.Len(t, acts.Receivers, 1)
	assert.Len(t, acts.Runtimes, 1)
	assert.Len(t, acts.Notifiers, 1)
	// The worker's Stores wrap the tenant (its only field, exported).
	tn, ok := reflect.ValueOf(acts.Tenants["a"]).Field(0).Interface().(*renewal.Tenant)
	require.True(t, ok)
	assert.Equal(t, []byte("s3cret"), tn.Password)

	require.NoError(t, os.WriteFile(path, []byte("tenants:\n  a: {keystore: k, alias: c, password_env: I13_NOT_SET}\ncas:\n  x: {}\n"), 0o600))
	_, _, err = loadWorker(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the environment has no I13_NOT_SET")
	assert.Contains(t, err.Error(), `CA "x": expected handoff_dir, command or local_dir`)
	assert.NotContains(t, err.Error(), "s3cret")
}

// readmeBlock returns the YAML block after marker in the module's README.
func readmeBlock(t *testing.T, marker string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(data), "<!-- "+marker+" -->\n```yaml\n")
	require.True(t, ok, "the README has a %s block", marker)
	block, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	return block
}

// The README's configurations are what the commands read.
func TestREADMEConfigurationsLoad(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TENANT_A_PW", "pw")
	worker := strings.ReplaceAll(readmeBlock(t, "worker.yaml"), "/etc/nginx", dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "worker.yaml"), []byte(worker), 0o600))
	for _, f := range []string{"client-ca.pem", "pinned-clients.map", "access.log", "nginx.pid"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), nil, 0o600))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "server-ca.pem"), testRootPEM(t), 0o600))
	acts, tq, err := loadWorker(filepath.Join(dir, "worker.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "certroll", tq)
	assert.Len(t, acts.Runtimes, 1)
	for _, n := range []string{"rcv-1", "rcv-2"} {
		assert.Implements(t, (*renewal.Prober)(nil), acts.Receivers[n], "%s answers handshakes", n)
		assert.Implements(t, (*renewal.UsageObserver)(nil), acts.Receivers[n], "%s tells when it last saw a certificate", n)
	}

	require.NoError(t, os.MkdirAll(filepath.Join(dir, "plans"), 0o755))
	writePlan(t, filepath.Join(dir, "plans", "tenant-a.json"), nil)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "campaign.yaml"), []byte(readmeBlock(t, "campaign.yaml")), 0o644))
	c, err := loadCampaign(filepath.Join(dir, "campaign.yaml"))
	require.NoError(t, err)
	assert.Equal(t, 2, c.MaxPerReceiver)
	require.Len(t, c.Renewals, 1)
	assert.Equal(t, 48*time.Hour, c.Renewals[0].Options.Confirm[0].Timeout)
}

func TestPrintStatusSaysWhatARenewalWaitsFor(t *testing.T) {
	var out bytes.Buffer
	e := &env{stdout: &out}
	since := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	st := &rtemporal.Status{
		Name: "tenant-a", Receiver: "rcv-1", Alias: "client", Keystore: "/srv/a/client.p12", Sequence: renewal.SequenceOverlap,
		State: renewal.StatusWaiting, Created: since, Updated: since.Add(time.Hour),
		Steps: []rtemporal.StepStatus{
			{Number: 1, ID: renewal.StepGenerateKey, Status: renewal.StatusWaiting, Note: "the request is at /srv/handover/renewal-1.csr"},
			{Number: 5, ID: renewal.StepSwapEntry, Status: renewal.StatusPending, Gate: &rtemporal.GateResult{
				Kind: renewal.GateReceiverAcceptsBoth, When: renewal.GateBefore, Problems: []string{"the receiver refuses the new chain"}}},
		},
		Waiting: &rtemporal.Waiting{Step: 1, ID: renewal.StepGenerateKey, On: renewal.TenantAdmin, For: "the CA's reply at /srv/handover/renewal-1.reply",
			Signal: rtemporal.SignalReply, Since: since, Until: since.Add(168 * time.Hour), Overdue: true},
	}
	require.NoError(t, e.printStatus("new-ca/tenant-a", st))
	got := out.String()
	for _, want := range []string{
		"Renewal: tenant-a (receiver rcv-1)\n",
		"State: waiting (since 2026-03-02T10:00:00Z; started 2026-03-02T09:00:00Z)\n",
		"  step  1  waiting  generate-key: the request is at /srv/handover/renewal-1.csr\n",
		"           gate before receiver_accepts_both: does not hold\n             - the receiver refuses the new chain\n",
		"Waiting for: step 1 (generate-key): the CA's reply at /srv/handover/renewal-1.reply, from the tenant administrator, since 2026-03-02T09:00:00Z (overdue since 2026-03-09T09:00:00Z); then: certroll-temporal signal new-ca/tenant-a reply\n",
	} {
		assert.Contains(t, got, want)
	}
}

// The worker builds the core's receivers with what certroll's own
// configuration gives them: a url makes the receiver answer handshakes
// (renewal.Prober), an access log tells when it last saw a certificate
// (renewal.UsageObserver), and nginx: and haproxy: build those adapters.
func TestLoadWorkerReceiversProbeAndObserve(t *testing.T) {
	dir := t.TempDir()
	file := func(name string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, nil, 0o600))
		return p
	}
	ca, pins, log, pid, cfg := file("ca.pem"), file("pins.map"), file("access.log"), file("nginx.pid"), file("haproxy.cfg")
	t.Setenv("I13_KEY_PW", "k3y")
	body := `tenants:
  a: {keystore: /srv/a/client.jks, alias: client, password_env: I13_KEY_PW, key_password: {password_env: I13_KEY_PW}}
receivers:
  cmd-probe: {trust_file: ` + ca + `, accepted_list: ` + pins + `, check: [true], reload: [true], url: "https://rcv.example:8443/", server_name: rcv.example, access_log: ` + log + `}
  cmd-plain: {trust_file: ` + ca + `, accepted_list: ` + pins + `, check: [true], reload: [true]}
  web:
    nginx: {client_ca: ` + ca + `, pin_map: ` + pins + `, pid_file: ` + pid + `, nginx: /bin/true, url: "https://rcv.example:8443/", access_log: ` + log + `}
  lb:
    haproxy: {ca_file: ` + ca + `, pinned_acl: ` + pins + `, config_files: [` + cfg + `], pid_file: ` + pid + `, haproxy: /bin/true, url: "https://rcv.example:8443/"}
`
	path := filepath.Join(dir, "worker.yaml")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	acts, _, err := loadWorker(path)
	require.NoError(t, err)

	for name, want := range map[string]bool{"cmd-probe": true, "cmd-plain": false, "web": true, "lb": true} {
		_, probes := acts.Receivers[name].(renewal.Prober)
		assert.Equal(t, want, probes, "receiver %s answers handshakes", name)
	}
	_, observes := acts.Receivers["cmd-probe"].(renewal.UsageObserver)
	assert.True(t, observes, "a receiver with an access log tells when it last saw a certificate")
	_, observes = acts.Receivers["web"].(renewal.UsageObserver)
	assert.True(t, observes)
	assert.IsType(t, &nginx.Receiver{}, acts.Receivers["web"])
	assert.IsType(t, &haproxy.Receiver{}, acts.Receivers["lb"])
	tn := reflect.ValueOf(acts.Tenants["a"]).Field(0).Interface().(*renewal.Tenant)
	assert.Equal(t, []byte("k3y"), tn.KeyPassword)

	require.NoError(t, os.WriteFile(path, []byte("receivers:\n  both: {nginx: {}, haproxy: {}}\n"), 0o600))
	_, _, err = loadWorker(path)
	assert.ErrorContains(t, err, "expected one of nginx: and haproxy:, found both")
}

// Bad input exits 2, before any server is asked; no server exits 1. A
// campaign named with the workflow ID's prefix is refused, so that every
// command finds it under the same name.
func TestExitCodesAndCampaignNames(t *testing.T) {
	dir := t.TempDir()
	writePlan(t, filepath.Join(dir, "a.json"), nil)
	camp := filepath.Join(dir, "campaign.yaml")
	require.NoError(t, os.WriteFile(camp, []byte("name: campaign-new-ca\nrenewals: [{name: a, plan: a.json, tenant: a, ca: c, receiver: r, runtime: rt, notifier: n}]\n"), 0o644))
	addr := freeAddress(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"prefixed name", []string{"start", camp}, 2, `name it "new-ca"`},
		{"missing file", []string{"start", filepath.Join(dir, "nope.yaml")}, 2, "nope.yaml"},
		{"arguments", []string{"status"}, 2, "accepts 1 arg"},
		{"flag", []string{"status", "x", "--no-such-flag"}, 2, "unknown flag"},
		{"command", []string{"stat"}, 2, "unknown command"},
		{"signal", []string{"signal", "new-ca", "confirm", "x"}, 2, "expected CAMPAIGN/RENEWAL confirm STEP"},
		{"worker without config", []string{"worker"}, 2, "expected --config"},
		{"no server", []string{"status", "new-ca"}, 1, "no Temporal server answers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cli(t, append(tc.args, "--address", addr)...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, tc.code, exitCode(err))
		})
	}
	help, err := cli(t, "--help")
	require.NoError(t, err)
	assert.Contains(t, help, "2 on bad input")
}

// testRootPEM returns a CA certificate, PEM.
func testRootPEM(t *testing.T) []byte {
	t.Helper()
	ca, err := local.NewCA(local.CAConfig{Name: "Server Root"})
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root().Raw})
}
