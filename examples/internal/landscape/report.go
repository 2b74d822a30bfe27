package landscape

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/certroll/certroll/internal/atomicfile"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/local"
)

// Progress returns an event handler for [renewal.Executor.OnEvent] that
// prints the executor's events to w, one heading per step of a plan of
// total steps.
func Progress(w io.Writer, total int) func(renewal.Event) {
	p := &progress{w: w, total: total}
	return p.event
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
		if msg == "" && ev.Step.Gate != nil {
			msg = ev.Step.Gate.Kind.String()
		}
		fmt.Fprintf(w, "           gate passed: %s\n", msg)
	case renewal.EventWarning:
		fmt.Fprintf(w, "           warning: %s\n", ev.Message)
	case renewal.EventGateFailed, renewal.EventStepFailed:
		fmt.Fprintf(w, "           %s: %v\n", ev.Kind, ev.Err)
	}
}

// Indent returns a writer that indents each line to line up under the
// progress's step headings, for the notifier's hand-off messages.
func Indent(w io.Writer) io.Writer { return indent{w} }

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

// Summary is what the examples print at the end and write with -summary.
//
// Every request that fell due is counted once: sent (RequestsTotal, of
// which RequestsFailed failed) or skipped by a node that fell behind its
// schedule (RequestsSkipped); RequestsDue is their sum.
type Summary struct {
	Plan string `json:"plan"`
	// Landscape is "embedded" or "real" (nginx and JVM nodes).
	Landscape      string `json:"landscape"`
	StepsCompleted int    `json:"steps_completed"`
	StepsTotal     int    `json:"steps_total"`
	RequestsTotal  int    `json:"requests_total"`
	RequestsFailed int    `json:"requests_failed"`
	// RequestsSkipped counts the requests that fell due but were not
	// sent, because a node was more than 100 ms behind its schedule (the
	// machine could not keep up with the rate asked for).
	RequestsSkipped int `json:"requests_skipped"`
	// RequestsDue is RequestsTotal + RequestsSkipped.
	RequestsDue int `json:"requests_due"`
	// RequestsPerSecond is the rate of requests sent that the nodes
	// achieved over the run.
	RequestsPerSecond float64 `json:"requests_per_second"`
	// RequestedPerSecond is the rate asked for: nodes × rate per node.
	RequestedPerSecond float64 `json:"requested_per_second"`
	// Nodes has the counts of each node, in node order.
	Nodes []NodeSummary `json:"nodes"`
	// FailedOutsideWindow counts failed requests outside the downtime
	// window (between the flow's stop and its restart); for the overlap
	// sequence every failure is outside.
	FailedOutsideWindow int `json:"failed_outside_window"`
	// FailedWhileStopped counts the failed requests that fell due while
	// their node's flow was stopped (the downtime window): the messages
	// the flow did not deliver then.
	FailedWhileStopped  int       `json:"failed_while_stopped"`
	WindowStart         time.Time `json:"window_start,omitzero"`
	WindowEnd           time.Time `json:"window_end,omitzero"`
	Alias               string    `json:"alias"`
	Keystore            string    `json:"keystore"`
	Truststore          string    `json:"truststore"`
	OldFingerprint      string    `json:"old_fingerprint"`
	NewFingerprint      string    `json:"new_fingerprint"`
	OldRootInTruststore bool      `json:"old_root_in_truststore"`
	NewRootInTruststore bool      `json:"new_root_in_truststore"`
	// Roots and AcceptedClients are the SHA-256 fingerprints of the roots
	// the receiver trusts at the end and of the client certificates it
	// accepts (pins), in its files' order.
	Roots           []string `json:"roots"`
	AcceptedClients []string `json:"accepted_clients"`
	Files           []string `json:"files"`
	Error           string   `json:"error,omitempty"`
}

// NodeSummary is one node's part of a [Summary].
type NodeSummary struct {
	Name    string `json:"name"`
	Sent    int    `json:"requests_sent"`
	Failed  int    `json:"requests_failed"`
	Skipped int    `json:"requests_skipped"`
	// Presented lists the SHA-256 fingerprints of the client
	// certificates the node presented, in order, one entry per run of
	// requests with the same certificate.
	Presented []string `json:"presented"`
}

// Window is the downtime window as a run saw it: from the start of the
// flow's stop to the end of its restart on every node. The zero Window is
// none (the overlap sequence).
type Window struct{ Start, End time.Time }

// Receiver is the receiver of either landscape, the embedded
// [*local.Receiver] or the real landscape's nginx: what the executor
// configures, and what the summary reads from its files at the end.
type Receiver interface {
	renewal.Receiver
	// Roots returns the roots the receiver trusts now.
	Roots() ([]*x509.Certificate, error)
	// AcceptedClients returns the client certificates it accepts now.
	AcceptedClients() ([]*x509.Certificate, error)
}

// Summarize puts together what the run did (res, nil if it never
// started; runErr, the error it ended with), what the traffic did, and
// what the receiver trusts and accepts now.
func (l *Landscape) Summarize(res *renewal.Result, runErr error, rcv Receiver, traffic Counted, window Window) (*Summary, error) {
	plan, stats, start, end := l.Plan, traffic.Stats, window.Start, window.End
	s := &Summary{
		Plan: string(plan.Sequence), Landscape: kindName(l.Nginx != nil), StepsTotal: len(plan.Steps),
		RequestsTotal: stats.Total, RequestsFailed: stats.Failed,
		RequestsSkipped: stats.Skipped, RequestsDue: stats.Total + stats.Skipped,
		RequestsPerSecond:  float64(stats.Total) / traffic.Elapsed.Seconds(),
		RequestedPerSecond: traffic.Asked,
		Alias:              Alias, Keystore: l.Keystore, Truststore: l.TrustFile(),
		WindowStart: start, WindowEnd: end, Files: []string{}, Nodes: []NodeSummary{},
		Roots: []string{}, AcceptedClients: []string{},
	}
	for _, name := range plan.Params.Nodes {
		ns := stats.PerNode[name]
		s.Nodes = append(s.Nodes, NodeSummary{Name: name, Sent: ns.Total, Failed: ns.Failed, Skipped: ns.Skipped,
			Presented: append([]string{}, ns.Sequence...)})
	}
	s.FailedOutsideWindow = stats.Failed - len(stats.Failures) // not kept: counted as outside
	for _, f := range stats.Failures {
		if errors.Is(f.Err, local.ErrNodeStopped) {
			s.FailedWhileStopped++
		}
		if start.IsZero() || f.At.Before(start) || f.At.After(end) {
			s.FailedOutsideWindow++
		}
	}
	if res != nil {
		s.StepsCompleted = len(res.Completed())
		s.OldFingerprint, s.NewFingerprint = res.Params.OldFingerprint, res.Params.NewFingerprint
		s.Files = append(s.Files, l.Journal)
		s.Files = append(s.Files, res.Files...)
	}
	s.Error = Explain(runErr)
	roots, err := rcv.Roots()
	if err != nil {
		return nil, err
	}
	for _, r := range roots {
		s.OldRootInTruststore = s.OldRootInTruststore || r.Equal(l.OldCA.Root())
		s.NewRootInTruststore = s.NewRootInTruststore || r.Equal(l.NewCA.Root())
		s.Roots = append(s.Roots, keystore.CertFingerprint(r).Hex())
	}
	accepted, err := rcv.AcceptedClients()
	if err != nil {
		return nil, err
	}
	for _, c := range accepted {
		s.AcceptedClients = append(s.AcceptedClients, keystore.CertFingerprint(c).Hex())
	}
	return s, nil
}

// Print prints the summary as the examples end.
func (s *Summary) Print(w io.Writer) {
	fmt.Fprintf(w, "\nsummary (%s)\n", s.Plan)
	fmt.Fprintf(w, "  steps completed      %d of %d\n", s.StepsCompleted, s.StepsTotal)
	fmt.Fprintf(w, "  requests sent        %d of %d due (%.0f per second of %.0f asked for, mutual TLS, a full handshake each)\n",
		s.RequestsTotal, s.RequestsDue, s.RequestsPerSecond, s.RequestedPerSecond)
	switch {
	case s.RequestsSkipped > 0 && s.Landscape == "real":
		fmt.Fprintf(w, "  requests skipped     %d (due while a JVM restarted, or the nodes fell behind)\n", s.RequestsSkipped)
	case s.RequestsSkipped > 0:
		fmt.Fprintf(w, "  requests skipped     %d (the nodes fell behind: this machine cannot keep up with the rate asked for)\n", s.RequestsSkipped)
	}
	fmt.Fprintf(w, "  requests failed      %d", s.RequestsFailed)
	if s.FailedWhileStopped > 0 {
		fmt.Fprintf(w, ", %d of them due while the flow was stopped", s.FailedWhileStopped)
	}
	if !s.WindowStart.IsZero() {
		fmt.Fprintf(w, " (%d outside the downtime window %s – %s)", s.FailedOutsideWindow,
			s.WindowStart.Format("15:04:05.000"), s.WindowEnd.Format("15:04:05.000"))
	}
	fmt.Fprintln(w)
	for _, n := range s.Nodes {
		fmt.Fprintf(w, "  %-20s %d sent, %d failed, %d skipped; presented %s\n", n.Name, n.Sent, n.Failed, n.Skipped, s.certNames(n.Presented))
	}
	fmt.Fprintf(w, "  alias                %q in %s\n", s.Alias, s.Keystore)
	fmt.Fprintf(w, "  old certificate      SHA-256 %s\n", s.OldFingerprint)
	fmt.Fprintf(w, "  new certificate      SHA-256 %s\n", s.NewFingerprint)
	fmt.Fprintf(w, "  receiver truststore  %s (old root present: %v, new root present: %v)\n", s.Truststore, s.OldRootInTruststore, s.NewRootInTruststore)
	fmt.Fprintf(w, "  receiver accepts     %s\n", s.certNames(s.AcceptedClients))
	fmt.Fprintf(w, "  files written\n")
	for _, f := range s.Files {
		fmt.Fprintf(w, "    %s\n", f)
	}
	if s.Error != "" {
		fmt.Fprintf(w, "  stopped: %s\n", s.Error)
	}
}

// certNames names each fingerprint of fps as the old or the new
// certificate, or by its first digits: "old → new".
func (s *Summary) certNames(fps []string) string {
	if len(fps) == 0 {
		return "nothing"
	}
	names := make([]string, len(fps))
	for i, fp := range fps {
		switch {
		case fp == s.OldFingerprint && fp != "":
			names[i] = "old"
		case fp == s.NewFingerprint && fp != "":
			names[i] = "new"
		case len(fp) > 16:
			names[i] = fp[:16] + "…"
		default:
			names[i] = fp
		}
	}
	return strings.Join(names, " → ")
}

// Write writes the summary as indented JSON to path.
func (s *Summary) Write(path string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	ctx, cancel := atomicfile.Within()
	defer cancel()
	return atomicfile.Write(ctx, path, append(data, '\n'), atomicfile.Options{Mode: 0o644})
}
