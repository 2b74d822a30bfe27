package chain

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite LIMBO.md from the x509-limbo run")

// limboCase is the part of an x509-limbo test case ($defs.Testcase in
// limbo-schema.json) the run uses.
type limboCase struct {
	ID                     string   `json:"id"`
	Features               []string `json:"features"`
	ValidationKind         string   `json:"validation_kind"`
	TrustedCerts           []string `json:"trusted_certs"`
	UntrustedIntermediates []string `json:"untrusted_intermediates"`
	PeerCertificate        string   `json:"peer_certificate"`
	ExtendedKeyUsage       []string `json:"extended_key_usage"`
	KeyUsage               []string `json:"key_usage"`
	ValidationTime         *string  `json:"validation_time"`
	ExpectedResult         string   `json:"expected_result"`
	ExpectedPeerName       *struct {
		Kind  string `json:"kind"`
		Value string `json:"value"`
	} `json:"expected_peer_name"`
	MaxChainDepth *int `json:"max_chain_depth"`
}

var limboEKU = map[string]x509.ExtKeyUsage{
	"serverAuth":          x509.ExtKeyUsageServerAuth,
	"clientAuth":          x509.ExtKeyUsageClientAuth,
	"codeSigning":         x509.ExtKeyUsageCodeSigning,
	"emailProtection":     x509.ExtKeyUsageEmailProtection,
	"timeStamping":        x509.ExtKeyUsageTimeStamping,
	"OCSPSigning":         x509.ExtKeyUsageOCSPSigning,
	"anyExtendedKeyUsage": x509.ExtKeyUsageAny,
}

// limboOutcome is what happened to one case.
type limboOutcome struct {
	c        limboCase
	skipped  string // why the case was not run, or ""
	receiver bool   // Receiver.Verify accepted
	x509     bool   // plain crypto/x509 accepted
	reasons  string // the receiver's reasons when it rejected
}

func (o limboOutcome) expected() bool { return o.c.ExpectedResult == "SUCCESS" }

func parsePEMCerts(blocks ...string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, s := range blocks {
		rest := []byte(s)
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// runLimboCase runs one case through Receiver.Verify and crypto/x509 with
// the same inputs. SERVER cases whose crypto/x509 verdict changes when the
// expected peer name is checked are skipped: the receiver checks no names.
func runLimboCase(t *testing.T, c limboCase) limboOutcome {
	t.Helper()
	o := limboOutcome{c: c}
	verdict := func(err error) string {
		if err == nil {
			return "accepted"
		}
		return "rejected"
	}
	peer, err := parsePEMCerts(c.PeerCertificate)
	if err == nil && len(peer) != 1 {
		err = fmt.Errorf("%d peer certificates", len(peer))
	}
	var roots, inters []*x509.Certificate
	if err == nil {
		roots, err = parsePEMCerts(c.TrustedCerts...)
	}
	if err == nil {
		inters, err = parsePEMCerts(c.UntrustedIntermediates...)
	}
	if err != nil {
		// Neither can verify what crypto/x509 cannot parse: both reject.
		o.reasons = "certificate does not parse: " + err.Error()
		return o
	}

	r := &Receiver{Roots: roots, Intermediates: inters, Time: testpki.Now}
	if c.ValidationTime != nil {
		r.Time, err = time.Parse(time.RFC3339, *c.ValidationTime)
		require.NoError(t, err)
	}
	for _, u := range c.ExtendedKeyUsage {
		eku, ok := limboEKU[u]
		require.True(t, ok, "unknown EKU %q", u)
		r.Usages = append(r.Usages, eku)
	}
	if len(r.Usages) == 0 && c.ValidationKind == "SERVER" {
		// limbo's SERVER cases are web PKI server validation.
		r.Usages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	chain := append([]*x509.Certificate{peer[0]}, inters...)
	opts := x509.VerifyOptions{
		Roots: testpki.Pool(roots...), Intermediates: testpki.Pool(inters...),
		CurrentTime: r.Time, KeyUsages: r.usages(),
	}
	_, xerr := peer[0].Verify(opts)
	o.x509 = xerr == nil
	if c.ValidationKind == "SERVER" && c.ExpectedPeerName != nil {
		opts.DNSName = c.ExpectedPeerName.Value
		if _, herr := peer[0].Verify(opts); (herr == nil) != o.x509 {
			o.skipped = fmt.Sprintf("needs a %s name check (crypto/x509: %s without, %s with)",
				c.ExpectedPeerName.Kind, verdict(xerr), verdict(herr))
			return o
		}
	}

	_, rerr := r.Verify(chain)
	o.receiver = rerr == nil
	var ve *VerifyError
	if errors.As(rerr, &ve) {
		var parts []string
		for _, reason := range reasons(ve) {
			parts = append(parts, problemWord(reason))
		}
		o.reasons = strings.Join(parts, ", ")
	} else if rerr != nil {
		o.reasons = rerr.Error()
	}
	return o
}

// Counts recorded from the last run (see LIMBO.md); a change in behaviour
// must update them deliberately.
const (
	limboTotal            = 208
	limboRun              = 193
	limboSkipped          = 15
	limboAgree            = 134
	limboDisagree         = 59
	limboX509Agree        = 132
	limboStricterThanX509 = 2
)

// TestLimbo runs the C2SP x509-limbo core cases: every CLIENT case and every
// SERVER case whose verdict does not depend on a host name check.
func TestLimbo(t *testing.T) {
	data, err := os.ReadFile("testdata/limbo/limbo-core.json")
	require.NoError(t, err)
	var suite struct {
		Version   int         `json:"version"`
		Testcases []limboCase `json:"testcases"`
	}
	require.NoError(t, json.Unmarshal(data, &suite))
	require.Len(t, suite.Testcases, limboTotal)

	var outcomes []limboOutcome
	var run, skipped, agree, disagree, x509Agree, stricter int
	for _, c := range suite.Testcases {
		o := runLimboCase(t, c)
		outcomes = append(outcomes, o)
		if o.skipped != "" {
			skipped++
			continue
		}
		run++
		// (1) Never more lenient than crypto/x509.
		assert.False(t, o.receiver && !o.x509, "%s: Receiver accepts what crypto/x509 rejects", c.ID)
		if !o.receiver {
			assert.NotEmpty(t, o.reasons, "%s: a rejection says why", c.ID)
		}
		if o.receiver == o.expected() {
			agree++
		} else {
			disagree++
		}
		if o.x509 == o.expected() {
			x509Agree++
		}
		if o.x509 && !o.receiver {
			stricter++
		}
	}

	md := limboMarkdown(outcomes, run, skipped, agree, disagree, x509Agree, stricter)
	if *update {
		require.NoError(t, os.WriteFile("LIMBO.md", []byte(md), 0o644))
	}
	// (2) The recorded counts and table still hold.
	assert.Equal(t, limboRun, run, "cases run")
	assert.Equal(t, limboSkipped, skipped, "cases skipped")
	assert.Equal(t, limboAgree, agree, "cases agreeing with limbo")
	assert.Equal(t, limboDisagree, disagree, "cases disagreeing with limbo")
	assert.Equal(t, limboX509Agree, x509Agree, "cases where plain crypto/x509 agrees with limbo")
	assert.Equal(t, limboStricterThanX509, stricter, "cases the receiver rejects and crypto/x509 accepts")
	want, err := os.ReadFile("LIMBO.md")
	require.NoError(t, err)
	assert.Equal(t, string(want), md, "LIMBO.md is out of date: go test ./chain -run TestLimbo -update")
}

func limboMarkdown(outcomes []limboOutcome, run, skipped, agree, disagree, x509Agree, stricter int) string {
	var b strings.Builder
	yes := func(ok bool) string {
		if ok {
			return "accept"
		}
		return "reject"
	}
	fmt.Fprintf(&b, `# x509-limbo conformance of chain.Receiver

Generated by `+"`go test ./chain -run TestLimbo -update`"+` from the %d core cases of
[C2SP x509-limbo](https://github.com/C2SP/x509-limbo) in `+"`testdata/limbo/`"+`.

Each case runs through `+"`Receiver.Verify`"+` with trusted_certs as Roots,
untrusted_intermediates as Intermediates, validation_time as Time (%s when absent) and
extended_key_usage as Usages (serverAuth for SERVER cases that name none), the other
settings at their zero values (RSA keys of at least 2048 bits, no pinning), and through
plain crypto/x509 `+"`Verify`"+` with the same inputs. The receiver checks no host names,
so a SERVER case is skipped when crypto/x509's verdict changes once its expected peer
name is checked. key_usage, signature_algorithms and max_chain_depth are not modelled.

| | cases |
|---|---|
| run | %d (%d CLIENT, %d SERVER) |
| skipped (verdict depends on a host name check) | %d |
| Receiver agrees with limbo's expected result | **%d** |
| Receiver disagrees | **%d** |
| plain crypto/x509 agrees with limbo (same cases) | %d |
| Receiver rejects, crypto/x509 accepts (receiver policy) | %d |
| Receiver accepts, crypto/x509 rejects | 0 (asserted) |

`, limboTotal, testpki.Now.Format(time.RFC3339), run, countKind(outcomes, "CLIENT"), countKind(outcomes, "SERVER"),
		skipped, agree, disagree, x509Agree, stricter)

	sorted := append([]limboOutcome(nil), outcomes...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].c.ID < sorted[j].c.ID })
	causes := map[string]int{}
	for _, o := range sorted {
		if o.skipped == "" && o.receiver != o.expected() {
			causes[disagreementCause(o)]++
		}
	}
	b.WriteString("## Why they disagree\n\n| cause | cases |\n|---|---|\n")
	for _, c := range sortedKeys(causes) {
		fmt.Fprintf(&b, "| %s | %d |\n", c, causes[c])
	}
	b.WriteString("\n## Disagreements\n\n| id | expected | Receiver | crypto/x509 | cause | receiver's reasons | limbo features |\n|---|---|---|---|---|---|---|\n")
	for _, o := range sorted {
		if o.skipped == "" && o.receiver != o.expected() {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s |\n", o.c.ID, strings.ToLower(o.c.ExpectedResult),
				yes(o.receiver), yes(o.x509), disagreementCause(o), o.reasons, strings.Join(o.c.Features, ", "))
		}
	}
	b.WriteString("\n## Cases where the receiver is stricter than crypto/x509\n\n| id | expected | receiver's reasons |\n|---|---|---|\n")
	for _, o := range sorted {
		if o.skipped == "" && o.x509 && !o.receiver {
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", o.c.ID, strings.ToLower(o.c.ExpectedResult), o.reasons)
		}
	}
	b.WriteString("\n## Agreements\n\n")
	var ids []string
	for _, o := range sorted {
		if o.skipped == "" && o.receiver == o.expected() {
			ids = append(ids, "`"+o.c.ID+"`")
		}
	}
	b.WriteString(strings.Join(ids, ", ") + "\n\n## Skipped\n\n| id | why |\n|---|---|\n")
	for _, o := range sorted {
		if o.skipped != "" {
			fmt.Fprintf(&b, "| `%s` | %s |\n", o.c.ID, o.skipped)
		}
	}
	return b.String()
}

func countKind(outcomes []limboOutcome, kind string) int {
	n := 0
	for _, o := range outcomes {
		if o.skipped == "" && o.c.ValidationKind == kind {
			n++
		}
	}
	return n
}

// disagreementCause classifies why the receiver's verdict differs from
// limbo's expected result.
func disagreementCause(o limboOutcome) string {
	for _, f := range o.c.Features {
		switch f {
		case "has-crl":
			return "revocation (CRL) is not checked"
		case "max-chain-depth":
			return "max_chain_depth is not modelled"
		}
	}
	switch {
	case o.expected() && !o.x509:
		return "crypto/x509 rejects, and the receiver never accepts more than crypto/x509"
	case !o.expected() && o.x509:
		return "crypto/x509 accepts, and the receiver adds no check for this (RFC 5280 / Web PKI profile rule)"
	}
	return "receiver policy differs"
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
