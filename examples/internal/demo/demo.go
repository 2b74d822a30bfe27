// Package demo builds the landscape the overlap and downtime examples run
// a renewal in, on one machine over real TLS, and runs it: an old CA and a
// new CA, a tenant keystore whose alias the old CA signed, the receiver's
// truststore and accepted-certificates file behind an HTTPS server that
// requires client certificates, and runtime nodes that send requests
// continuously and cache their TLS configuration until restarted.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/certroll/certroll/internal/atomicfile"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/local"
)

// Config says what landscape to build and how to run the renewal.
type Config struct {
	// Sequence is the renewal sequence to run.
	Sequence renewal.Sequence
	// Dir keeps the files; empty means a temporary directory removed at
	// the end. A Dir that holds a journal is resumed.
	Dir string
	// Format is the tenant keystore's format.
	Format keystore.Format
	// Nodes is the number of runtime nodes.
	Nodes int
	// Rate is the number of requests per second each node sends.
	Rate float64
	// StepPause is how long traffic flows after each step before the next
	// starts, so that every phase of the renewal carries load.
	StepPause time.Duration
	// SkipRestart, if not zero, names node SkipRestart (1-based) as one the
	// integration developer forgets: it keeps its cached configuration.
	SkipRestart int
	// RunbookOnly prints the runbook and diagram and runs nothing.
	RunbookOnly bool
	// Out receives the progress.
	Out io.Writer
}

// Summary is what the examples print at the end and write with -summary.
type Summary struct {
	Plan           string `json:"plan"`
	StepsCompleted int    `json:"steps_completed"`
	StepsTotal     int    `json:"steps_total"`
	RequestsTotal  int    `json:"requests_total"`
	RequestsFailed int    `json:"requests_failed"`
	// RequestsPerSecond is the rate the nodes achieved over the run.
	RequestsPerSecond float64 `json:"requests_per_second"`
	// FailedOutsideWindow counts failed requests outside the downtime
	// window (between the flow's stop and its restart); for the overlap
	// sequence every failure is outside.
	FailedOutsideWindow int       `json:"failed_outside_window"`
	WindowStart         time.Time `json:"window_start,omitzero"`
	WindowEnd           time.Time `json:"window_end,omitzero"`
	Alias               string    `json:"alias"`
	Keystore            string    `json:"keystore"`
	Truststore          string    `json:"truststore"`
	OldFingerprint      string    `json:"old_fingerprint"`
	NewFingerprint      string    `json:"new_fingerprint"`
	OldRootInTruststore bool      `json:"old_root_in_truststore"`
	NewRootInTruststore bool      `json:"new_root_in_truststore"`
	Files               []string  `json:"files"`
	Error               string    `json:"error,omitempty"`
}

const alias = "client"

// maxFailures bounds the failures the runtime keeps one by one (for the
// downtime window check); the counts are exact beyond it.
const maxFailures = 100000

var password = []byte("changeit")

// landscape is the set of files and services one run works with.
type landscape struct {
	dir                                  string
	keystore, truststore, accepted, plan string
	journal, handover                    string
	oldCA, newCA                         *local.CA
	receiver                             *local.Receiver
	runtime                              *local.Runtime
	resumed                              bool
}

// Run builds (or, with a Dir that holds one, reopens) the landscape and
// runs the renewal, printing each step. It returns the summary, and an
// error if the run did not complete (a failed gate among them).
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	dir := cfg.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "certroll-"+cfg.Sequence.String()+"-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	l, err := open(dir, cfg)
	if err != nil {
		return nil, err
	}
	plan, err := l.loadPlan(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.RunbookOnly {
		fmt.Fprintf(out, "%s\n```mermaid\n%s```\n", plan.Markdown(), plan.Mermaid())
		return nil, nil
	}
	if l.resumed {
		fmt.Fprintf(out, "resuming the %s renewal in %s from its journal\n", plan.Sequence, dir)
	} else {
		fmt.Fprintf(out, "landscape in %s: tenant keystore %s (%v), alias %q signed by %q; receiver truststore %s\n",
			dir, filepath.Base(l.keystore), cfg.Format, alias, l.oldCA.Root().Subject.CommonName, filepath.Base(l.truststore))
		fmt.Fprintf(out, "\n%s\n", plan.Markdown())
	}

	srv, err := l.serve(cfg)
	if err != nil {
		return nil, err
	}
	defer l.receiver.Close()
	fmt.Fprintf(out, "receiver listening on %s; %d nodes sending %.0f requests/s each\n\n", srv, cfg.Nodes, cfg.Rate)

	traffic, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	var stats local.Stats
	trafficStart := time.Now()
	go func() {
		defer wg.Done()
		stats = l.runtime.Run(traffic)
	}()
	time.Sleep(cfg.StepPause) // traffic before the first step

	var window struct{ start, end time.Time }
	show := &progress{w: out, total: len(plan.Steps)}
	x := &renewal.Executor{
		Plan:        plan,
		Tenant:      &renewal.Tenant{Keystore: l.keystore, Password: password, Alias: alias},
		Journal:     l.journal,
		CA:          l.newCA,
		Receiver:    l.receiver,
		Runtime:     l.runtime,
		Notifier:    &local.Notifier{W: indent{out}},
		HandOverDir: l.handover,
		OldRoot:     l.oldCA.Root(),
		OnEvent: func(ev renewal.Event) {
			show.event(ev)
			switch {
			// The window opens when the flow starts stopping and closes
			// when it runs again on every node.
			case ev.Kind == renewal.EventStepStarted && ev.Step.ID == renewal.StepStopFlow:
				window.start = ev.Time
			case ev.Kind == renewal.EventStepDone && ev.Step.ID == renewal.StepRestartNodes && plan.Sequence == renewal.SequenceDowntime:
				window.end = ev.Time
			}
			if ev.Kind == renewal.EventStepDone || ev.Kind == renewal.EventStepSkipped {
				time.Sleep(cfg.StepPause)
			}
		},
	}
	res, runErr := x.Run(ctx)
	if window.start.IsZero() != window.end.IsZero() || (!window.start.IsZero() && window.end.Before(window.start)) {
		window.end = time.Now() // the run stopped inside the window
	}
	time.Sleep(cfg.StepPause) // traffic after the last step
	stop()
	wg.Wait()
	elapsed := time.Since(trafficStart)

	sum, err := l.summarize(plan, res, stats, window.start, window.end)
	if err != nil {
		return nil, errors.Join(runErr, err)
	}
	sum.RequestsPerSecond = float64(stats.Total) / elapsed.Seconds()
	if runErr != nil {
		sum.Error = runErr.Error()
	}
	printSummary(out, sum)
	return sum, runErr
}

// open builds the landscape's files in dir, or reopens them.
func open(dir string, cfg Config) (*landscape, error) {
	ext := ".jks"
	if cfg.Format == keystore.PKCS12 {
		ext = ".p12"
	}
	l := &landscape{
		dir:        dir,
		keystore:   filepath.Join(dir, "tenant-client"+ext),
		truststore: filepath.Join(dir, "receiver-truststore.jks"),
		accepted:   filepath.Join(dir, "receiver-accepted.pem"),
		plan:       filepath.Join(dir, "plan.json"),
		journal:    filepath.Join(dir, "journal.json"),
		handover:   filepath.Join(dir, "hand-over"),
	}
	var err error
	if l.oldCA, err = local.OpenCA(filepath.Join(dir, "old-ca"), "Old Root CA", nil, nil); err != nil {
		return nil, err
	}
	if l.newCA, err = local.OpenCA(filepath.Join(dir, "new-ca"), "New Root CA", nil, nil); err != nil {
		return nil, err
	}
	if _, err := os.Stat(l.plan); err == nil {
		l.resumed = true
		return l, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, stale := range []string{l.keystore, l.truststore, l.accepted, l.journal} {
		if _, err := os.Stat(stale); err == nil {
			return nil, fmt.Errorf("%s exists but %s does not: not a landscape this program made; use an empty -dir", stale, l.plan)
		}
	}
	if err := os.MkdirAll(l.handover, 0o700); err != nil {
		return nil, err
	}
	key, err := keystore.GenerateKey(keystore.RSA2048)
	if err != nil {
		return nil, err
	}
	chain, err := l.oldCA.Issue("tenant-client", key.Public())
	if err != nil {
		return nil, err
	}
	ks := keystore.New(cfg.Format)
	if err := ks.Set(&keystore.Entry{Alias: alias, Key: key, Chain: chain}); err != nil {
		return nil, err
	}
	if err := ks.Save(l.keystore, password); err != nil {
		return nil, err
	}
	ts := keystore.New(keystore.JKS)
	if err := ts.Set(&keystore.Entry{Alias: "old-root-ca", Chain: chain[1:]}); err != nil {
		return nil, err
	}
	if err := ts.Save(l.truststore, password); err != nil {
		return nil, err
	}
	// The receiver accepts the old client certificate.
	rcv, err := local.NewReceiver(local.ReceiverConfig{Truststore: l.truststore, TruststorePassword: password, Accepted: l.accepted})
	if err != nil {
		return nil, err
	}
	return l, rcv.AcceptClient(context.Background(), chain)
}

// loadPlan builds the plan on the first run and keeps it in plan.json; a
// resumed run rebuilds it from the kept parameters, since the live alias
// may already hold the new certificate.
func (l *landscape) loadPlan(cfg Config) (*renewal.Plan, error) {
	if l.resumed {
		data, err := os.ReadFile(l.plan)
		if err != nil {
			return nil, err
		}
		var kept renewal.Plan
		if err := json.Unmarshal(data, &kept); err != nil {
			return nil, fmt.Errorf("%s: %w", l.plan, err)
		}
		return renewal.Build(kept.Sequence, kept.Params)
	}
	ks, err := keystore.Open(l.keystore, password)
	if err != nil {
		return nil, err
	}
	chain, err := ks.Certificates(alias)
	if err != nil {
		return nil, err
	}
	nodes := make([]string, cfg.Nodes)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("node-%d", i+1)
	}
	p := renewal.Params{
		Alias:              alias,
		Keystore:           l.keystore,
		KeystoreFormat:     cfg.Format.String(),
		Truststore:         l.truststore,
		Nodes:              nodes,
		OldFingerprint:     keystore.Fingerprint256Hex(chain[0]),
		OldRootSubject:     l.oldCA.Root().Subject.String(),
		OldRootFingerprint: keystore.Fingerprint256Hex(l.oldCA.Root()),
		NewRootSubject:     l.newCA.Root().Subject.String(),
		NewRootFingerprint: keystore.Fingerprint256Hex(l.newCA.Root()),
	}
	if cfg.Sequence == renewal.SequenceDowntime {
		p.Window = renewal.Window{Description: "now, for as long as the exchange takes"}
	}
	plan, err := renewal.Build(cfg.Sequence, p)
	if err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(plan, "", "  ")
	if err != nil {
		return nil, err
	}
	ctx, cancel := atomicfile.Within()
	defer cancel()
	return plan, atomicfile.Write(ctx, l.plan, data, atomicfile.Options{Mode: 0o600})
}

// serve starts the receiver's HTTPS server and the runtime's nodes.
func (l *landscape) serve(cfg Config) (string, error) {
	id, err := local.NewServerIdentity(nil, nil)
	if err != nil {
		return "", err
	}
	l.receiver, err = local.NewReceiver(local.ReceiverConfig{Truststore: l.truststore, TruststorePassword: password, Accepted: l.accepted, Server: id})
	if err != nil {
		return "", err
	}
	url, err := l.receiver.Start()
	if err != nil {
		return "", err
	}
	l.runtime, err = local.NewRuntime(local.RuntimeConfig{
		Nodes: cfg.Nodes, Keystore: l.keystore, KeystorePassword: password, Alias: alias,
		URL: url, ServerRoot: l.receiver.ServerRoot(), Rate: cfg.Rate,
		MaxFailures: maxFailures,
	})
	if err != nil {
		l.receiver.Close()
		return "", err
	}
	if cfg.SkipRestart > 0 {
		if err := l.runtime.SkipRestart(fmt.Sprintf("node-%d", cfg.SkipRestart)); err != nil {
			l.receiver.Close()
			return "", err
		}
	}
	// A resumed downtime run may find the flow stopped; the executor
	// starts it again at its restart step, so only a fresh or overlap run
	// starts every node here.
	if err := l.startNodes(cfg); err != nil {
		l.receiver.Close()
		return "", err
	}
	return url, nil
}

func (l *landscape) startNodes(cfg Config) error {
	if l.resumed && cfg.Sequence == renewal.SequenceDowntime {
		j, err := renewal.ReadJournal(l.journal)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if j != nil && done(j, renewal.StepStopFlow) && !done(j, renewal.StepRestartNodes) {
			return nil // inside the window: the flow stays stopped
		}
	}
	return l.runtime.StartAll(context.Background())
}

func done(j *renewal.Journal, id renewal.StepID) bool {
	r := j.Step(id)
	return r != nil && r.Status == renewal.StatusDone
}

func (l *landscape) summarize(plan *renewal.Plan, res *renewal.Result, stats local.Stats, start, end time.Time) (*Summary, error) {
	s := &Summary{
		Plan: plan.Sequence.String(), StepsTotal: len(plan.Steps),
		RequestsTotal: stats.Total, RequestsFailed: stats.Failed,
		Alias: alias, Keystore: l.keystore, Truststore: l.truststore,
		WindowStart: start, WindowEnd: end, Files: []string{},
	}
	s.FailedOutsideWindow = stats.Failed - len(stats.Failures) // not kept: counted as outside
	for _, f := range stats.Failures {
		if start.IsZero() || f.At.Before(start) || f.At.After(end) {
			s.FailedOutsideWindow++
		}
	}
	if res != nil {
		s.StepsCompleted = len(res.Completed())
		s.OldFingerprint, s.NewFingerprint = res.OldFingerprint, res.NewFingerprint
		s.Files = append(s.Files, res.Journal)
		s.Files = append(s.Files, res.Files...)
	}
	roots, err := l.receiver.Roots()
	if err != nil {
		return nil, err
	}
	for _, r := range roots {
		s.OldRootInTruststore = s.OldRootInTruststore || r.Equal(l.oldCA.Root())
		s.NewRootInTruststore = s.NewRootInTruststore || r.Equal(l.newCA.Root())
	}
	return s, nil
}

// progress prints the executor's events, one heading per step.
type progress struct {
	w       io.Writer
	total   int
	heading int // the step whose heading was printed last
}

func (p *progress) event(ev renewal.Event) {
	w, st := p.w, ev.Step
	if st.Number != p.heading {
		fmt.Fprintf(w, "step %d/%d  %-26s %s\n", st.Number, p.total, "["+st.Role.String()+"]", st.Title)
		p.heading = st.Number
	}
	switch ev.Kind {
	case renewal.EventStepDone:
		fmt.Fprintf(w, "           done: %s\n", ev.Message)
	case renewal.EventStepSkipped:
		fmt.Fprintf(w, "           skipped: %s\n", ev.Message)
	case renewal.EventGatePassed:
		msg := ev.Message
		if msg == "" && ev.Gate != nil {
			msg = ev.Gate.Kind.String()
		}
		fmt.Fprintf(w, "           gate passed: %s\n", msg)
	case renewal.EventWarning:
		fmt.Fprintf(w, "           warning: %s\n", ev.Message)
	case renewal.EventGateFailed, renewal.EventStepFailed:
		fmt.Fprintf(w, "           %s: %v\n", ev.Kind, ev.Err)
	}
}

func printSummary(w io.Writer, s *Summary) {
	fmt.Fprintf(w, "\nsummary (%s)\n", s.Plan)
	fmt.Fprintf(w, "  steps completed      %d of %d\n", s.StepsCompleted, s.StepsTotal)
	fmt.Fprintf(w, "  requests sent        %d (%.0f per second, mutual TLS, a full handshake each)\n", s.RequestsTotal, s.RequestsPerSecond)
	fmt.Fprintf(w, "  requests failed      %d", s.RequestsFailed)
	if !s.WindowStart.IsZero() {
		fmt.Fprintf(w, " (%d outside the downtime window %s – %s)", s.FailedOutsideWindow,
			s.WindowStart.Format("15:04:05.000"), s.WindowEnd.Format("15:04:05.000"))
	}
	fmt.Fprintf(w, "\n  alias                %q in %s\n", s.Alias, s.Keystore)
	fmt.Fprintf(w, "  old certificate      SHA-256 %s\n", s.OldFingerprint)
	fmt.Fprintf(w, "  new certificate      SHA-256 %s\n", s.NewFingerprint)
	fmt.Fprintf(w, "  receiver truststore  %s (old root present: %v, new root present: %v)\n", s.Truststore, s.OldRootInTruststore, s.NewRootInTruststore)
	fmt.Fprintf(w, "  files written\n")
	for _, f := range s.Files {
		fmt.Fprintf(w, "    %s\n", f)
	}
	if s.Error != "" {
		fmt.Fprintf(w, "  stopped: %s\n", s.Error)
	}
}

// WriteSummary writes s as indented JSON to path.
func WriteSummary(path string, s *Summary) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	ctx, cancel := atomicfile.Within()
	defer cancel()
	return atomicfile.Write(ctx, path, append(data, '\n'), atomicfile.Options{Mode: 0o644})
}

// indent prefixes each line written through it, for the notifier's
// hand-off messages.
type indent struct{ w io.Writer }

func (i indent) Write(p []byte) (int, error) {
	lines := strings.SplitAfter(string(p), "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString("           ")
			b.WriteString(l)
		}
	}
	if _, err := io.WriteString(i.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flags registers the flags both examples share on fs and returns the
// config they fill, and the -summary path.
func Flags(fs *flag.FlagSet, seq renewal.Sequence) (*Config, *string, *string) {
	cfg := &Config{Sequence: seq}
	format := fs.String("format", "jks", "tenant keystore format: jks or pkcs12")
	fs.StringVar(&cfg.Dir, "dir", "", "keep the files in this directory; run again with the same -dir to resume an interrupted run")
	fs.IntVar(&cfg.Nodes, "nodes", 3, "number of runtime nodes")
	fs.Float64Var(&cfg.Rate, "rate", 100, "requests per second each node sends")
	fs.DurationVar(&cfg.StepPause, "step-pause", 250*time.Millisecond, "how long traffic flows after each step")
	fs.IntVar(&cfg.SkipRestart, "skip-restart-node", 0, "leave node K on its cached configuration when the nodes are restarted")
	fs.BoolVar(&cfg.RunbookOnly, "runbook", false, "print the runbook and the sequence diagram only")
	summary := fs.String("summary", "", "write the summary as JSON to this file")
	return cfg, format, summary
}

// ParseFormat turns the -format flag into a keystore format.
func ParseFormat(s string) (keystore.Format, error) {
	switch strings.ToLower(s) {
	case "jks":
		return keystore.JKS, nil
	case "pkcs12", "p12":
		return keystore.PKCS12, nil
	}
	return keystore.FormatUnknown, fmt.Errorf("-format: want jks or pkcs12, got %q", s)
}

// Main is the body of both examples: it parses args, runs the renewal and
// writes the summary. It returns the process's exit code.
func Main(seq renewal.Sequence, args []string, out, errOut io.Writer) int {
	fs := flag.NewFlagSet(seq.String(), flag.ContinueOnError)
	fs.SetOutput(errOut)
	cfg, format, summary := Flags(fs, seq)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	if cfg.Format, err = ParseFormat(*format); err != nil {
		fmt.Fprintln(errOut, err)
		return 2
	}
	if cfg.Nodes < 1 || cfg.Rate <= 0 || cfg.SkipRestart < 0 || cfg.SkipRestart > cfg.Nodes {
		fmt.Fprintf(errOut, "want -nodes >= 1, -rate > 0 and 0 <= -skip-restart-node <= -nodes\n")
		return 2
	}
	cfg.Out = out
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, runErr := Run(ctx, *cfg)
	if sum != nil && *summary != "" {
		if err := WriteSummary(*summary, sum); err != nil {
			fmt.Fprintln(errOut, err)
			return 1
		}
	}
	if runErr != nil {
		fmt.Fprintln(errOut, seq.String()+":", runErr)
		return 1
	}
	return 0
}
