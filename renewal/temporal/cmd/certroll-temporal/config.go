package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/command"
	"github.com/certroll/certroll/renewal/handoff"
	"github.com/certroll/certroll/renewal/haproxy"
	"github.com/certroll/certroll/renewal/local"
	"github.com/certroll/certroll/renewal/nginx"
	rtemporal "github.com/certroll/certroll/renewal/temporal"
	"github.com/certroll/certroll/truststore"
)

// campaignFile is a campaign as a person writes it (YAML or JSON): the
// limits, defaults, and per renewal its plan's file (`certroll plan
// --json`) and the names of its adapters in the worker's configuration.
type campaignFile struct {
	Name           string        `yaml:"name"`
	MaxConcurrent  int           `yaml:"max_concurrent"`
	MaxPerReceiver int           `yaml:"max_per_receiver"`
	PauseAfter     int           `yaml:"pause_after"`
	Defaults       renewalFile   `yaml:"defaults"`
	Renewals       []renewalFile `yaml:"renewals"`
}

type renewalFile struct {
	Name         string            `yaml:"name"`
	Plan         string            `yaml:"plan"`
	Tenant       string            `yaml:"tenant"`
	CA           string            `yaml:"ca"`
	Receiver     string            `yaml:"receiver"`
	Group        string            `yaml:"group"`
	Runtime      string            `yaml:"runtime"`
	Notifier     string            `yaml:"notifier"`
	ReplyTimeout string            `yaml:"reply_timeout"`
	Drain        string            `yaml:"drain"`
	CacheWait    string            `yaml:"cache_wait"`
	GateRetry    string            `yaml:"gate_retry"`
	StepTimeout  string            `yaml:"step_timeout"`
	Confirm      map[string]string `yaml:"confirm"` // step ID → timeout
}

// decodeStrict reads YAML (and so JSON) refusing unknown keys.
func decodeStrict(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func duration(what, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: expected a duration such as 48h or 10m, found %q", what, s)
	}
	return d, nil
}

// loadCampaign reads a campaign file and the plans it names (relative to
// the file), and checks each plan as the workflow will: it must be what
// renewal.Build gives for its sequence and parameters.
func loadCampaign(path string) (rtemporal.Campaign, error) {
	var f campaignFile
	if err := decodeStrict(path, &f); err != nil {
		return rtemporal.Campaign{}, err
	}
	c := rtemporal.Campaign{Name: f.Name, MaxConcurrent: f.MaxConcurrent, MaxPerReceiver: f.MaxPerReceiver, PauseAfter: f.PauseAfter}
	var errs []error
	if f.Name == "" {
		errs = append(errs, fmt.Errorf("%s: expected a campaign name (name:), found none", path))
	}
	if strings.HasPrefix(f.Name, campaignPrefix) {
		// Its workflow ID is campaign-NAME: a name with the prefix would
		// make campaign-campaign-…, which the other commands would not find.
		errs = append(errs, fmt.Errorf("%s: the campaign name %q starts with %q, which its workflow ID gets anyway: name it %q", path, f.Name, campaignPrefix, strings.TrimPrefix(f.Name, campaignPrefix)))
	}
	if len(f.Renewals) == 0 {
		errs = append(errs, fmt.Errorf("%s: expected at least one renewal (renewals:), found none", path))
	}
	d := f.Defaults
	for i, r := range f.Renewals {
		where := fmt.Sprintf("%s: renewal %d (%q)", path, i+1, r.Name)
		in, err := renewalInput(filepath.Dir(path), r, d)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		c.Renewals = append(c.Renewals, in)
	}
	return c, errors.Join(errs...)
}

func renewalInput(dir string, r, d renewalFile) (rtemporal.Input, error) {
	in := rtemporal.Input{Name: r.Name, Group: or(r.Group, d.Group), Adapters: rtemporal.Adapters{
		Tenant: or(r.Tenant, d.Tenant), CA: or(r.CA, d.CA), Receiver: or(r.Receiver, d.Receiver),
		Runtime: or(r.Runtime, d.Runtime), Notifier: or(r.Notifier, d.Notifier),
	}}
	var missing []string
	for _, f := range []struct{ name, v string }{{"name", in.Name}, {"plan", r.Plan}, {"tenant", in.Adapters.Tenant}, {"ca", in.Adapters.CA},
		{"receiver", in.Adapters.Receiver}, {"runtime", in.Adapters.Runtime}, {"notifier", in.Adapters.Notifier}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return in, fmt.Errorf("expected %s, found none (give them for the renewal or under defaults:)", strings.Join(missing, ", "))
	}
	planPath := r.Plan
	if !filepath.IsAbs(planPath) {
		planPath = filepath.Join(dir, planPath)
	}
	data, err := os.ReadFile(planPath)
	if err != nil {
		return in, fmt.Errorf("the plan: %w (make it with: certroll plan --json RENEWAL.yaml > %s)", err, r.Plan)
	}
	var p renewal.Plan
	if err := json.Unmarshal(data, &p); err != nil {
		return in, fmt.Errorf("the plan %s: %w", planPath, err)
	}
	built, err := renewal.Build(p.Sequence, p.Params)
	if err != nil {
		return in, fmt.Errorf("the plan %s: %w", planPath, err)
	}
	a, _ := json.Marshal(&p)
	b, _ := json.Marshal(built)
	if !bytes.Equal(a, b) {
		return in, fmt.Errorf("the plan %s is not what certroll builds for its sequence and parameters: build it again with certroll plan --json", planPath)
	}
	in.Plan = built
	o := &in.Options
	var errs []error
	for _, f := range []struct {
		what string
		v    string
		to   *time.Duration
	}{{"reply_timeout", or(r.ReplyTimeout, d.ReplyTimeout), &o.ReplyTimeout}, {"drain", or(r.Drain, d.Drain), &o.Drain},
		{"cache_wait", or(r.CacheWait, d.CacheWait), &o.CacheWait}, {"gate_retry", or(r.GateRetry, d.GateRetry), &o.GateRetry},
		{"step_timeout", or(r.StepTimeout, d.StepTimeout), &o.StepTimeout}} {
		v, err := duration(f.what, f.v)
		errs = append(errs, err)
		*f.to = v
	}
	confirm := r.Confirm
	if confirm == nil {
		confirm = d.Confirm
	}
	steps := make([]string, 0, len(confirm))
	for s := range confirm {
		steps = append(steps, s)
	}
	slices.Sort(steps) // the input is the same whatever the map's order
	for _, s := range steps {
		v, err := duration("confirm "+s, confirm[s])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !slices.ContainsFunc(built.Steps, func(st renewal.Step) bool { return string(st.ID) == s && st.Kind == renewal.KindHandOff }) {
			errs = append(errs, fmt.Errorf("confirm: %q is not a hand-off step of the plan", s))
			continue
		}
		o.Confirm = append(o.Confirm, rtemporal.Confirm{Step: renewal.StepID(s), Timeout: v})
	}
	return in, errors.Join(errs...)
}

// workerFile is a worker's configuration: its adapters by name. Secrets
// are read from files or the environment, never written here.
type workerFile struct {
	TaskQueue string                  `yaml:"task_queue"`
	Tenants   map[string]tenantFile   `yaml:"tenants"`
	CAs       map[string]caFile       `yaml:"cas"`
	Receivers map[string]receiverFile `yaml:"receivers"`
	Runtimes  map[string]runtimeFile  `yaml:"runtimes"`
	Notifiers map[string]notifierFile `yaml:"notifiers"`
}

type secret struct {
	File string `yaml:"password_file"`
	Env  string `yaml:"password_env"`
}

func (s secret) read(what string) ([]byte, error) {
	switch {
	case s.File != "" && s.Env != "":
		return nil, fmt.Errorf("%s: give password_file or password_env, not both", what)
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return bytes.TrimRight(b, "\r\n"), nil
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok {
			return nil, fmt.Errorf("%s: the environment has no %s", what, s.Env)
		}
		return []byte(v), nil
	}
	return nil, nil
}

type tenantFile struct {
	Keystore string `yaml:"keystore"`
	Alias    string `yaml:"alias"`
	Staging  string `yaml:"staging"`
	History  string `yaml:"history"`
	secret   `yaml:",inline"`
	// KeyPassword is the live alias's key password, where it differs
	// from the keystore's (a JKS): {password_file: …} or {password_env: …}.
	KeyPassword *secret `yaml:"key_password"`
}

type caFile struct {
	HandoffDir string   `yaml:"handoff_dir"`
	Command    []string `yaml:"command"`
	Pool       string   `yaml:"pool"`
	Timeout    string   `yaml:"timeout"`
	// Local is the directory of an embedded CA (renewal/local), for
	// trying a campaign on one machine.
	Local string `yaml:"local_dir"`
}

// receiverFile is a receiver: nginx (nginx:), HAProxy (haproxy:), or by
// default one driven by commands (renewal/command), as certroll's own
// configuration names them (cmd/certroll). url, server_name and
// server_roots make it answer handshakes ([renewal.Prober]), access_log
// tells when it last saw the old certificate (the drain).
type receiverFile struct {
	Nginx   *nginxFile   `yaml:"nginx"`
	HAProxy *haproxyFile `yaml:"haproxy"`

	TrustFile      string   `yaml:"trust_file"`
	TrustKind      string   `yaml:"trust_kind"`
	AcceptedList   string   `yaml:"accepted_list"`
	AcceptedFormat string   `yaml:"accepted_format"`
	Check          []string `yaml:"check"`
	Reload         []string `yaml:"reload"`
	Timeout        string   `yaml:"timeout"`
	secret         `yaml:",inline"`
	probeFile      `yaml:",inline"`
}

// probeFile is how a receiver is reached for a handshake, and its log.
type probeFile struct {
	URL         string   `yaml:"url"`
	ServerName  string   `yaml:"server_name"`
	ServerRoots []string `yaml:"server_roots"`
	AccessLog   string   `yaml:"access_log"`
}

type nginxFile struct {
	ClientCA     string `yaml:"client_ca"`
	PinMap       string `yaml:"pin_map"`
	Nginx        string `yaml:"nginx"`
	Prefix       string `yaml:"prefix"`
	ConfFile     string `yaml:"conf_file"`
	PidFile      string `yaml:"pid_file"`
	ReloadSignal bool   `yaml:"reload_signal"`
	Addr         string `yaml:"addr"`
	Timeout      string `yaml:"timeout"`
	probeFile    `yaml:",inline"`
}

type haproxyFile struct {
	CAFile       string   `yaml:"ca_file"`
	PinnedACL    string   `yaml:"pinned_acl"`
	HAProxy      string   `yaml:"haproxy"`
	ConfigFiles  []string `yaml:"config_files"`
	MasterSocket string   `yaml:"master_socket"`
	PidFile      string   `yaml:"pid_file"`
	Timeout      string   `yaml:"timeout"`
	probeFile    `yaml:",inline"`
}

// serverRoots reads the roots that verify the receiver's server
// certificate in a probe (nil: the system's).
func (p probeFile) serverRoots(what string) (*x509.CertPool, error) {
	if len(p.ServerRoots) == 0 {
		return nil, nil
	}
	pool := x509.NewCertPool()
	for _, f := range p.ServerRoots {
		data, err := os.ReadFile(f)
		if err == nil {
			var certs []*x509.Certificate
			if certs, err = keystore.ParseCertificates(data); err == nil {
				for _, c := range certs {
					pool.AddCert(c)
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: server_roots: %w", what, err)
		}
	}
	return pool, nil
}

type runtimeFile struct {
	Nodes   []command.Node `yaml:"nodes"`
	Dir     string         `yaml:"dir"`
	Timeout string         `yaml:"timeout"`
}

type notifierFile struct {
	// Log is where the hand-offs are printed: stderr or stdout.
	Log string `yaml:"log"`
}

// sorted returns a map's keys in order, so that errors come in the same
// order every time.
func sorted[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// loadWorker reads a worker's configuration and makes its adapters.
func loadWorker(path string) (*rtemporal.Activities, string, error) {
	var f workerFile
	if err := decodeStrict(path, &f); err != nil {
		return nil, "", err
	}
	a := &rtemporal.Activities{Tenants: map[string]rtemporal.Stores{}, CAs: map[string]renewal.CA{},
		Receivers: map[string]renewal.Receiver{}, Runtimes: map[string]renewal.Runtime{}, Notifiers: map[string]renewal.Notifier{}}
	var errs []error
	for _, n := range sorted(f.Tenants) {
		t := f.Tenants[n]
		pw, err := t.read("tenant " + n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if t.Keystore == "" || t.Alias == "" {
			errs = append(errs, fmt.Errorf("tenant %q: expected keystore and alias, found keystore %q, alias %q", n, t.Keystore, t.Alias))
			continue
		}
		tn := &renewal.Tenant{Keystore: t.Keystore, Alias: t.Alias, Password: pw, Staging: t.Staging, History: t.History}
		if t.KeyPassword != nil {
			if tn.KeyPassword, err = t.KeyPassword.read("tenant " + n + " key_password"); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		a.Tenants[n] = rtemporal.TenantStores(tn)
	}
	for _, n := range sorted(f.CAs) {
		c := f.CAs[n]
		switch {
		case c.HandoffDir != "":
			a.CAs[n] = &handoff.CA{Dir: c.HandoffDir}
		case len(c.Command) > 0:
			cmd := &command.CA{Argv: c.Command}
			if c.Pool != "" {
				data, err := os.ReadFile(c.Pool)
				if err == nil {
					cmd.Pool, err = keystore.ParseCertificates(data)
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("CA %q: pool: %w", n, err))
					continue
				}
			}
			d, err := duration("CA "+n+" timeout", c.Timeout)
			errs = append(errs, err)
			cmd.Timeout = d
			a.CAs[n] = cmd
		case c.Local != "":
			ca, err := local.NewCA(local.CAConfig{Dir: c.Local, Name: n})
			if err != nil {
				errs = append(errs, fmt.Errorf("CA %q: %w", n, err))
				continue
			}
			a.CAs[n] = ca
		default:
			errs = append(errs, fmt.Errorf("CA %q: expected handoff_dir, command or local_dir", n))
		}
	}
	for _, n := range sorted(f.Receivers) {
		rcv, err := receiver(n, f.Receivers[n])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a.Receivers[n] = rcv
	}
	for _, n := range sorted(f.Runtimes) {
		r := f.Runtimes[n]
		d, err := duration("runtime "+n+" timeout", r.Timeout)
		errs = append(errs, err)
		rt, err := command.NewRuntime(command.RuntimeConfig{Nodes: r.Nodes, Dir: r.Dir, Timeout: d})
		if err != nil {
			errs = append(errs, fmt.Errorf("runtime %q: %w", n, err))
			continue
		}
		a.Runtimes[n] = rt
	}
	for _, n := range sorted(f.Notifiers) {
		switch f.Notifiers[n].Log {
		case "stderr", "":
			a.Notifiers[n] = &local.Notifier{W: os.Stderr}
		case "stdout":
			a.Notifiers[n] = &local.Notifier{W: os.Stdout}
		default:
			errs = append(errs, fmt.Errorf("notifier %q: log: expected stderr or stdout, found %q", n, f.Notifiers[n].Log))
		}
	}
	return a, f.TaskQueue, errors.Join(errs...)
}

// receiver makes receiver n's adapter, as certroll's configuration does
// (cmd/certroll/config_landscape.go).
func receiver(n string, r receiverFile) (renewal.Receiver, error) {
	what := fmt.Sprintf("receiver %q", n)
	switch {
	case r.Nginx != nil && r.HAProxy != nil:
		return nil, fmt.Errorf("%s: expected one of nginx: and haproxy:, found both", what)
	case r.Nginx != nil:
		x := r.Nginx
		roots, err := x.serverRoots(what)
		if err != nil {
			return nil, err
		}
		d, err := duration(what+" timeout", x.Timeout)
		if err != nil {
			return nil, err
		}
		rcv, err := nginx.NewReceiver(nginx.Config{
			ClientCA: x.ClientCA, PinMap: x.PinMap, AccessLog: x.AccessLog, Nginx: x.Nginx, Prefix: x.Prefix,
			ConfFile: x.ConfFile, PidFile: x.PidFile, ReloadSignal: x.ReloadSignal, Addr: x.Addr,
			URL: x.URL, ServerName: x.ServerName, ServerRoots: roots, Timeout: d,
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return rcv, nil
	case r.HAProxy != nil:
		x := r.HAProxy
		roots, err := x.serverRoots(what)
		if err != nil {
			return nil, err
		}
		d, err := duration(what+" timeout", x.Timeout)
		if err != nil {
			return nil, err
		}
		rcv, err := haproxy.NewReceiver(haproxy.Config{
			CAFile: x.CAFile, PinnedACL: x.PinnedACL, AccessLog: x.AccessLog, HAProxy: x.HAProxy,
			ConfigFiles: x.ConfigFiles, MasterSocket: x.MasterSocket, PidFile: x.PidFile,
			URL: x.URL, ServerName: x.ServerName, ServerRoots: roots, Timeout: d,
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return rcv, nil
	}
	pw, err := r.read(what)
	if err != nil {
		return nil, err
	}
	roots, err := r.serverRoots(what)
	if err != nil {
		return nil, err
	}
	cfg := command.Config{TrustFile: r.TrustFile, TrustPassword: pw, AcceptedList: r.AcceptedList, Check: r.Check, Reload: r.Reload,
		AccessLog: r.AccessLog, URL: r.URL, ServerName: r.ServerName, ServerRoots: roots}
	switch r.TrustKind {
	case "pem", "":
		cfg.TrustKind = truststore.PEMBundle
	case "jks":
		cfg.TrustKind = truststore.JKS
	case "pkcs12":
		cfg.TrustKind = truststore.PKCS12
	default:
		return nil, fmt.Errorf("%s: trust_kind: expected pem, jks or pkcs12, found %q", what, r.TrustKind)
	}
	switch r.AcceptedFormat {
	case "nginx-map":
		cfg.AcceptedFormat = command.NginxMap
	case "haproxy-acl":
		cfg.AcceptedFormat = command.HAProxyACL
	case "sha256", "":
		cfg.AcceptedFormat = command.SHA256List
	default:
		return nil, fmt.Errorf("%s: accepted_format: expected nginx-map, haproxy-acl or sha256, found %q", what, r.AcceptedFormat)
	}
	d, err := duration(what+" timeout", r.Timeout)
	if err != nil {
		return nil, err
	}
	cfg.Timeout = d
	rcv, err := command.NewReceiver(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if r.AccessLog != "" {
		// Observing checks the access log's configuration; Adapter offers
		// the observer (and, with a URL, the prober) itself.
		if _, err := rcv.Observing(); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	return rcv.Adapter(), nil
}
