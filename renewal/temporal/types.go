package temporal

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
)

// Names of the signals and queries the workflows answer. They are stable:
// the command line and other programs send them by name.
const (
	// SignalConfirm carries a [Confirmation]: the role a hand-off waits on
	// has done its part.
	SignalConfirm = "confirm"
	// SignalReply says that the CA's reply is in place (for the hand-off
	// CA, in its folder): step 1 asks the CA again.
	SignalReply = "reply"
	// SignalRetry asks a renewal stopped by a failed gate to check the
	// gate again, once the problem it named has been put right.
	SignalRetry = "retry"
	// SignalResume resumes a campaign paused by its gate threshold.
	SignalResume = "resume"
	// QueryStatus returns a renewal's [Status].
	QueryStatus = "status"
	// QueryReport returns a campaign's [Report].
	QueryReport = "report"

	// signalProgress carries a child's [Status] to its campaign when the
	// child starts or stops waiting.
	signalProgress = "renewal-progress"
)

// Adapters names, for one renewal, the tenant's stores and the adapters
// its activities use. The worker resolves each name in its [Activities];
// the names, not the adapters or their passwords, are in the workflow's
// input and history.
type Adapters struct {
	Tenant   string `json:"tenant"`
	CA       string `json:"ca"`
	Receiver string `json:"receiver"`
	Runtime  string `json:"runtime"`
	Notifier string `json:"notifier"`
}

// Confirm says that a hand-off step waits for its role's confirmation
// ([SignalConfirm]) before the renewal goes on, and how long before the
// wait is reported overdue.
type Confirm struct {
	Step    renewal.StepID `json:"step"`
	Timeout time.Duration  `json:"timeout"`
}

// Confirmation is the payload of [SignalConfirm].
type Confirmation struct {
	// Step is the hand-off step confirmed.
	Step renewal.StepID `json:"step"`
	// By names who confirmed, for the status.
	By string `json:"by,omitempty"`
}

// Options are a renewal's waits. The zero value of each is documented.
type Options struct {
	// Confirm lists the hand-off steps that wait for a confirmation. Nil
	// means none waits: a hand-off is done once delivered, as with an
	// executor whose Waits is nil.
	Confirm []Confirm `json:"confirm,omitempty"`
	// ReplyTimeout is how long step 1 waits for a CA that answers later
	// (the hand-off CA) before the wait is reported overdue; the renewal
	// goes on waiting for [SignalReply]. Zero means 7 days.
	ReplyTimeout time.Duration `json:"reply_timeout,omitempty"`
	// Drain is the executor's Drain: how long the receiver must have seen
	// no handshake with the old certificate before the old certificate
	// and root are removed (a durable timer between checks). Zero means
	// no quiet period.
	Drain time.Duration `json:"drain,omitempty"`
	// CacheWait, if not zero, lets the nodes' keystore caches expire
	// instead of restarting every node at once: the restart step first
	// waits CacheWait (a durable timer; the runtime caches the keystore
	// for 24 hours), then restarts only the nodes still presenting
	// another certificate. Zero means restart now.
	CacheWait time.Duration `json:"cache_wait,omitempty"`
	// GateRetry is how long a renewal stopped by a failed gate waits for
	// [SignalRetry] before it ends, failed. Zero means it ends at once.
	GateRetry time.Duration `json:"gate_retry,omitempty"`
	// MaxAttempts bounds each activity's attempts (a worker crash or an
	// adapter error is retried). Zero means 20.
	MaxAttempts int32 `json:"max_attempts,omitempty"`
	// StepTimeout bounds one attempt of an activity (Temporal's
	// StartToClose); the attempt is then retried. The workflow cannot see
	// the worker's adapters, so it cannot derive it from their timeouts:
	// set it above the longest step's calls, such as the restart step's
	// nodes × the runtime's timeout (renewal/command's
	// DefaultRuntimeTimeout is 2 minutes a call). Zero means 10 minutes.
	StepTimeout time.Duration `json:"step_timeout,omitempty"`
}

func (o Options) confirmTimeout(id renewal.StepID) (time.Duration, bool) {
	for _, c := range o.Confirm {
		if c.Step == id {
			return c.Timeout, true
		}
	}
	return 0, false
}

// Input is what [RenewalWorkflow] runs: one plan, built once outside the
// workflow (by [renewal.Build]) and carried here (or only its sequence
// and parameters), and the names of the adapters. The workflow rebuilds
// the plan from its sequence and parameters and refuses one that
// differs, as the executor does.
type Input struct {
	// Name identifies the renewal in a campaign's report; unique within
	// a campaign.
	Name string        `json:"name"`
	Plan *renewal.Plan `json:"plan,omitempty"`
	// Sequence and Params, when Plan is nil, are the plan's: the
	// workflow builds the same plan from them with [renewal.Build] (pure
	// and deterministic). A campaign's input carries its renewals so,
	// about a tenth of the size ([Input.Compact]), because Temporal caps a
	// payload (2 MB by default).
	Sequence renewal.Sequence `json:"sequence,omitempty"`
	Params   *renewal.Params  `json:"params,omitempty"`
	Adapters Adapters         `json:"adapters"`
	// Group names the receiver server a campaign's per-receiver limit
	// counts the renewal against, when Adapters.Receiver names an adapter
	// for one tenant's configuration on a server that several renewals
	// share. Empty means Adapters.Receiver.
	Group   string  `json:"group,omitempty"`
	Options Options `json:"options,omitzero"`
}

// Compact returns the input with its plan replaced by the plan's
// sequence and parameters, from which the workflow builds the same plan.
func (in Input) Compact() Input {
	if in.Plan != nil {
		p := in.Plan.Params
		in.Sequence, in.Params, in.Plan = in.Plan.Sequence, &p, nil
	}
	return in
}

// group is the receiver the campaign's limit counts the renewal against.
func (in *Input) group() string {
	if in.Group != "" {
		return in.Group
	}
	return in.Adapters.Receiver
}

// Artifacts are the certificates a renewal found or made, as PEM: they
// are in the workflow's history (as the journal's artifacts are in the
// journal), and hold no key.
type Artifacts struct {
	OldChain string `json:"old_chain,omitempty"`
	OldRoot  string `json:"old_root,omitempty"`
	NewChain string `json:"new_chain,omitempty"`
	NewRoot  string `json:"new_root,omitempty"`
	// StagedKey is the SHA-256 of the public key a request went to the
	// CA for, while step 1 waits for the reply.
	StagedKey string `json:"staged_key,omitempty"`
}

// Waiting says what a renewal waits for, on whom, since when.
type Waiting struct {
	Step int            `json:"step"`
	ID   renewal.StepID `json:"id"`
	// On is the role whose action ends the wait; empty for a timer.
	On renewal.Role `json:"on,omitempty"`
	// For says what is awaited, such as "the CA's reply at /srv/x.reply".
	For string `json:"for"`
	// Signal is the signal that ends the wait, if one does.
	Signal string `json:"signal,omitempty"`
	// Since is when the wait began, Until when its timer ends or it is
	// reported overdue (zero if neither).
	Since time.Time `json:"since"`
	Until time.Time `json:"until,omitzero"`
	// Overdue is set once a wait with a timeout has outlasted it; the
	// renewal goes on waiting.
	Overdue bool `json:"overdue,omitempty"`
}

// GateResult is one evaluation of a gate.
type GateResult struct {
	Kind       renewal.GateKind  `json:"kind"`
	When       renewal.GatePoint `json:"when"`
	Passed     bool              `json:"passed"`
	Problems   []string          `json:"problems,omitempty"`
	Stragglers []string          `json:"stragglers,omitempty"`
	// DrainUntil, when not zero, says the gate holds but for the drain:
	// the receiver saw the old certificate too recently, and the gate is
	// checked again at DrainUntil.
	DrainUntil time.Time `json:"drain_until,omitzero"`
}

// StepStatus is one step's progress, as `certroll status` shows a
// journal's.
type StepStatus struct {
	Number   int            `json:"number"`
	ID       renewal.StepID `json:"id"`
	Status   renewal.Status `json:"status"`
	Attempts int            `json:"attempts,omitempty"`
	Note     string         `json:"note,omitempty"`
	Error    string         `json:"error,omitempty"`
	Gate     *GateResult    `json:"gate,omitempty"`
}

// Status is where a renewal stands: what [QueryStatus] returns and
// [RenewalWorkflow] returns at its end. State is running, waiting, done
// or failed.
type Status struct {
	Name           string           `json:"name"`
	Sequence       renewal.Sequence `json:"sequence"`
	State          renewal.Status   `json:"state"`
	Created        time.Time        `json:"created"`
	Updated        time.Time        `json:"updated"`
	Alias          string           `json:"alias"`
	Keystore       string           `json:"keystore"`
	Receiver       string           `json:"receiver"`
	OldFingerprint string           `json:"old_fingerprint,omitempty"`
	NewFingerprint string           `json:"new_fingerprint,omitempty"`
	Steps          []StepStatus     `json:"steps"`
	Waiting        *Waiting         `json:"waiting_for,omitempty"`
	// RefusedBy is the gate that stopped a failed renewal, if one did.
	RefusedBy *GateResult `json:"refused_by,omitempty"`
	Error     string      `json:"error,omitempty"`
}

// String says in one line where the renewal stands.
func (s *Status) String() string {
	line := fmt.Sprintf("%s: %s", s.Name, s.State)
	if w := s.Waiting; w != nil {
		line += fmt.Sprintf(", step %d (%s) waiting for %s", w.Step, w.ID, w.For)
		if w.On != "" {
			line += " from the " + w.On.String()
		}
		line += " since " + w.Since.UTC().Format(time.RFC3339)
		if w.Overdue {
			line += " (overdue)"
		}
	}
	if g := s.RefusedBy; g != nil {
		line += fmt.Sprintf(", refused by gate %s: %s", g.Kind, strings.Join(g.Problems, "; "))
	} else if s.Error != "" {
		line += ": " + s.Error
	}
	return line
}

// StepInput is the input of a step's activity.
type StepInput struct {
	Renewal   string        `json:"renewal"`
	Adapters  Adapters      `json:"adapters"`
	Plan      *renewal.Plan `json:"plan"`
	Step      renewal.Step  `json:"step"`
	Artifacts Artifacts     `json:"artifacts"`
	// Message is a hand-off's text.
	Message string `json:"message,omitempty"`
	// SwapDone says the receiver's swap (downtime step 8) is done.
	SwapDone bool `json:"swap_done,omitempty"`
	// Now and Drain are the workflow's clock and drain, for the drain
	// condition of a gate.
	Now   time.Time     `json:"now,omitzero"`
	Drain time.Duration `json:"drain,omitempty"`
}

// StepOutput is what a step's activity did.
type StepOutput struct {
	Note    string `json:"note,omitempty"`
	Skipped bool   `json:"skipped,omitempty"`
	// NewChain and NewRoot (PEM) come from step 1.
	NewChain string `json:"new_chain,omitempty"`
	NewRoot  string `json:"new_root,omitempty"`
	// Awaiting is set when the CA answers later.
	Awaiting *Awaiting `json:"awaiting,omitempty"`
}

// Awaiting is a CA's [renewal.AwaitingReplyError], as data.
type Awaiting struct {
	Request   string `json:"request,omitempty"`
	Reply     string `json:"reply,omitempty"`
	Message   string `json:"message"`
	StagedKey string `json:"staged_key"`
}

func encodeChain(certs []*x509.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.String()
}

func decodeChain(s, what string) ([]*x509.Certificate, error) {
	if s == "" {
		return nil, fmt.Errorf("renewal/temporal: the %s is not known yet: %w", what, renewal.ErrUnexpectedState)
	}
	c, err := keystore.ParseCertificates([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("renewal/temporal: the %s in the workflow's history: %w", what, err)
	}
	if len(c) == 0 {
		return nil, fmt.Errorf("renewal/temporal: the %s in the workflow's history holds no certificate: %w", what, renewal.ErrUnexpectedState)
	}
	return c, nil
}

// fingerprint returns the SHA-256 of the first certificate of a PEM
// chain, as 64 hex digits, or "".
func fingerprint(pemChain string) string {
	c, err := keystore.ParseCertificates([]byte(pemChain))
	if err != nil || len(c) == 0 {
		return ""
	}
	return keystore.CertFingerprint(c[0]).Hex()
}
