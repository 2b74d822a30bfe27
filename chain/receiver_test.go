package chain

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pki is the hierarchy the receiver tests share.
type pki struct {
	root, inter, rsaRoot, rsaInter, unknownRoot, unknownInter *testpki.CA
	newRoot, cross, reissued, expiredRoot                     *testpki.CA
	leaf, rsaLeaf, newLeaf, unknownLeaf                       *testpki.Leaf
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	p := &pki{}
	p.root = testpki.NewRoot(t, "Root")
	p.inter = p.root.Intermediate(t, "Inter")
	p.leaf = p.inter.Leaf(t, "client")
	p.rsaRoot = testpki.NewRoot(t, "RSA Root", testpki.WithKeyType(testpki.KeyRSA2048))
	p.rsaInter = p.rsaRoot.Intermediate(t, "RSA Inter", testpki.WithKeyType(testpki.KeyRSA2048))
	p.rsaLeaf = p.rsaInter.Leaf(t, "rsa client", testpki.WithKeyType(testpki.KeyRSA2048))
	p.unknownRoot = testpki.NewRoot(t, "Unknown Root")
	p.unknownInter = p.unknownRoot.Intermediate(t, "Unknown Inter")
	p.unknownLeaf = p.unknownInter.Leaf(t, "stranger")
	p.newRoot = testpki.NewRoot(t, "New Root")
	p.cross = p.root.CrossSign(t, p.newRoot)
	p.newLeaf = p.newRoot.Leaf(t, "new client")
	p.reissued = p.root.Reissue(t, testpki.Validity(testpki.Now.Add(-time.Hour), testpki.Now.Add(20*365*24*time.Hour)))
	p.expiredRoot = p.root.Reissue(t, testpki.Expired())
	return p
}

// flip returns a copy of c with the last byte of its signature changed.
func flip(t testing.TB, c *x509.Certificate) *x509.Certificate {
	t.Helper()
	der := append([]byte(nil), c.Raw...)
	der[len(der)-1] ^= 0x01
	out, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return out
}

// issue returns a problem summary "CN=name: reason" for comparison.
func summary(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s: %s", Name(p.Cert), problemWord(p.Err)))
	}
	return out
}

// reasons returns the distinct sentinels of the problems, in order of first
// appearance.
func reasons(ve *VerifyError) []error {
	var out []error
	seen := map[error]bool{}
	for _, p := range ve.Problems {
		if !seen[p.Err] {
			seen[p.Err] = true
			out = append(out, p.Err)
		}
	}
	return out
}

func TestReceiverVerify(t *testing.T) {
	p := newPKI(t)
	at := func(d time.Duration) time.Time { return testpki.Now.Add(d) }
	roots := []*x509.Certificate{p.root.Cert, p.rsaRoot.Cert}
	base := func() *Receiver { return &Receiver{Roots: roots, Time: testpki.Now} }
	with := func(f func(r *Receiver)) *Receiver { r := base(); f(r); return r }

	expiredLeaf := p.inter.Leaf(t, "old client", testpki.Expired())
	futureLeaf := p.inter.Leaf(t, "future client", testpki.NotYetValid())
	expiredInter := p.root.Intermediate(t, "Old Inter", testpki.Expired())
	serverLeaf := p.inter.Leaf(t, "server", testpki.EKU(x509.ExtKeyUsageServerAuth))
	noEKULeaf := p.inter.Leaf(t, "no eku", testpki.NoEKU())
	serverInter := p.root.Intermediate(t, "Server Inter", testpki.EKU(x509.ExtKeyUsageServerAuth))
	underServerInter := serverInter.Leaf(t, "under server inter")
	sha1Leaf := p.rsaInter.Leaf(t, "sha1 client", testpki.SHA1())
	md5Leaf := p.rsaInter.Leaf(t, "md5 client", testpki.MD5())
	weakLeaf := p.rsaInter.Leaf(t, "weak client", testpki.RSA1024())
	notCA := &testpki.CA{Cert: p.leaf.Cert, Key: p.leaf.Key, Parent: p.inter}
	underLeaf := notCA.Leaf(t, "under leaf")
	badSig := flip(t, p.leaf.Cert)
	manyProblems := p.rsaInter.Leaf(t, "bad client", testpki.SHA1(), testpki.Expired(),
		testpki.EKU(x509.ExtKeyUsageServerAuth), testpki.RSA1024())
	reissuedLeaf := p.inter.Leaf(t, "client of reissued", testpki.Validity(at(-time.Hour), at(time.Hour)))

	tests := []struct {
		name     string
		r        *Receiver
		chain    []*x509.Certificate
		wantPath string   // accepted: the verified path
		want     []string // rejected: "CN=x: reason" per problem, in order
		details  []string // substrings of the error message
	}{
		{name: "accepted", r: base(), chain: p.leaf.Chain, wantPath: "CN=client -> CN=Inter -> CN=Root"},
		{name: "accepted with root sent too", r: base(), chain: append(append([]*x509.Certificate{}, p.leaf.Chain...), p.root.Cert),
			wantPath: "CN=client -> CN=Inter -> CN=Root"},
		{name: "no EKU is any usage", r: base(), chain: noEKULeaf.Chain, wantPath: "CN=no eku -> CN=Inter -> CN=Root"},
		{name: "RSA chain", r: base(), chain: p.rsaLeaf.Chain, wantPath: "CN=rsa client -> CN=RSA Inter -> CN=RSA Root"},
		{name: "expired leaf", r: base(), chain: expiredLeaf.Chain, want: []string{"CN=old client: expired"},
			details: []string{"valid from 2024-01-02T00:00:00Z to 2025-12-31T00:00:00Z, checked at 2026-01-01T00:00:00Z"}},
		{name: "leaf not yet valid", r: base(), chain: futureLeaf.Chain, want: []string{"CN=future client: not yet valid"},
			details: []string{"valid from 2026-01-02T00:00:00Z"}},
		{name: "expired intermediate", r: base(), chain: expiredInter.Leaf(t, "c").Chain,
			want: []string{"CN=Old Inter: expired"}},
		{name: "expired root", r: with(func(r *Receiver) { r.Roots = []*x509.Certificate{p.expiredRoot.Cert} }),
			chain: p.leaf.Chain, want: []string{"CN=Root: expired"}},
		{name: "checked later: everything expired", r: with(func(r *Receiver) { r.Time = at(6 * 365 * 24 * time.Hour) }),
			chain: p.leaf.Chain, want: []string{"CN=client: expired", "CN=Inter: expired"}},
		{name: "server auth only", r: base(), chain: serverLeaf.Chain, want: []string{"CN=server: usage not permitted"},
			details: []string{"extended key usage permits serverAuth; the receiver requires clientAuth"}},
		{name: "server auth receiver accepts it", r: with(func(r *Receiver) { r.Usages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }),
			chain: serverLeaf.Chain, wantPath: "CN=server -> CN=Inter -> CN=Root"},
		{name: "any usage", r: with(func(r *Receiver) { r.Usages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} }),
			chain: serverLeaf.Chain, wantPath: "CN=server -> CN=Inter -> CN=Root"},
		{name: "intermediate restricts usage", r: base(), chain: underServerInter.Chain,
			want: []string{"CN=Server Inter: usage not permitted"}},
		{name: "bad signature", r: base(), chain: []*x509.Certificate{badSig, p.inter.Cert},
			want: []string{"CN=client: bad signature"}, details: []string{"does not verify with the key of CN=Inter"}},
		{name: "SHA-1 signature", r: base(), chain: sha1Leaf.Chain, want: []string{"CN=sha1 client: weak signature"},
			details: []string{"signed by CN=RSA Inter with SHA1-RSA"}},
		{name: "MD5 signature", r: base(), chain: md5Leaf.Chain, want: []string{"CN=md5 client: weak signature"},
			details: []string{"with MD5-RSA"}},
		{name: "RSA-1024 key", r: base(), chain: weakLeaf.Chain, want: []string{"CN=weak client: weak key"},
			details: []string{"RSA key of 1024 bits; the receiver requires at least 2048"}},
		{name: "RSA-1024 allowed by a lower minimum", r: with(func(r *Receiver) { r.MinRSABits = 1024 }),
			chain: weakLeaf.Chain, wantPath: "CN=weak client -> CN=RSA Inter -> CN=RSA Root"},
		{name: "RSA-2048 rejected by a higher minimum", r: with(func(r *Receiver) { r.MinRSABits = 3072 }),
			chain: p.rsaLeaf.Chain, want: []string{"CN=rsa client: weak key", "CN=RSA Inter: weak key", "CN=RSA Root: weak key"}},
		{name: "key size check disabled", r: with(func(r *Receiver) { r.MinRSABits = -1 }),
			chain: weakLeaf.Chain, wantPath: "CN=weak client -> CN=RSA Inter -> CN=RSA Root"},
		{name: "pinned", r: with(func(r *Receiver) { r.Pinned = []*x509.Certificate{p.rsaLeaf.Cert, p.leaf.Cert} }),
			chain: p.leaf.Chain, wantPath: "CN=client -> CN=Inter -> CN=Root"},
		{name: "not pinned", r: with(func(r *Receiver) { r.Pinned = []*x509.Certificate{p.rsaLeaf.Cert} }),
			chain: p.leaf.Chain, want: []string{"CN=client: not pinned"},
			details: []string{"accepts only 1 pinned client certificate(s) (CN=rsa client)"}},
		{name: "pinned but untrusted", r: with(func(r *Receiver) { r.Pinned = []*x509.Certificate{p.unknownLeaf.Cert} }),
			chain: p.unknownLeaf.Chain, want: []string{"CN=Unknown Inter: unknown authority"}},
		{name: "unknown root", r: base(), chain: p.unknownLeaf.Chain, want: []string{"CN=Unknown Inter: unknown authority"},
			details: []string{`issuer "CN=Unknown Root,O=certroll test" with key id ` + keyID(p.unknownRoot.Cert.SubjectKeyId),
				"the receiver trusts \"CN=Root,O=certroll test\" (key id " + keyID(p.root.Cert.SubjectKeyId) + "), \"CN=RSA Root"}},
		{name: "untrusted self-signed root sent", r: base(), chain: append(append([]*x509.Certificate{}, p.unknownLeaf.Chain...), p.unknownRoot.Cert),
			want: []string{"CN=Unknown Root: unknown authority"}, details: []string{"self-signed \"CN=Unknown Root,O=certroll test\""}},
		{name: "no roots at all", r: &Receiver{Time: testpki.Now}, chain: p.leaf.Chain,
			want: []string{"CN=Inter: unknown authority"}, details: []string{"the receiver trusts no roots"}},
		{name: "incomplete chain", r: base(), chain: []*x509.Certificate{p.leaf.Cert},
			want:    []string{"CN=client: incomplete chain"},
			details: []string{`the client sent no issuer: issuer "CN=Inter,O=certroll test" with key id ` + keyID(p.inter.Cert.SubjectKeyId)}},
		{name: "intermediate from the receiver", r: with(func(r *Receiver) { r.Intermediates = []*x509.Certificate{p.inter.Cert} }),
			chain: []*x509.Certificate{p.leaf.Cert}, wantPath: "CN=client -> CN=Inter -> CN=Root"},
		{name: "same-named root with another key", r: with(func(r *Receiver) {
			r.Roots = []*x509.Certificate{testpki.NewRoot(t, "Unknown Root").Cert}
		}), chain: p.unknownLeaf.Chain, want: []string{"CN=Unknown Inter: unknown authority"},
			details: []string{"the receiver holds a certificate with that name, but its key id is"}},
		{name: "root with the issuer's key id under another name", r: with(func(r *Receiver) {
			r.Roots = []*x509.Certificate{testpki.NewRoot(t, "Renamed Root", testpki.SameKeyAs(p.unknownRoot)).Cert}
		}), chain: p.unknownLeaf.Chain, want: []string{"CN=Unknown Inter: unknown authority"},
			details: []string{`the receiver holds "CN=Renamed Root,O=certroll test" (key id ` + keyID(p.unknownRoot.Cert.SubjectKeyId) + "), which has that key id but another name"}},
		{name: "cross-signed new root via the old root", r: base(), chain: []*x509.Certificate{p.newLeaf.Cert, p.cross.Cert},
			wantPath: "CN=new client -> CN=New Root -> CN=Root"},
		{name: "new root without the cross certificate", r: base(), chain: []*x509.Certificate{p.newLeaf.Cert},
			want: []string{"CN=new client: incomplete chain"}},
		{name: "re-issued root with the same key", r: with(func(r *Receiver) { r.Roots = []*x509.Certificate{p.reissued.Cert} }),
			chain: reissuedLeaf.Chain, wantPath: "CN=client of reissued -> CN=Inter -> CN=Root"},
		{name: "issuer is not a CA", r: base(), chain: []*x509.Certificate{underLeaf.Cert, p.leaf.Cert, p.inter.Cert},
			want: []string{"CN=client: constraint violated"}, details: []string{"issued CN=under leaf but is not a CA certificate"}},
		{name: "every problem listed", r: base(), chain: manyProblems.Chain,
			want: []string{"CN=bad client: expired", "CN=bad client: weak key", "CN=bad client: weak signature", "CN=bad client: usage not permitted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tt.r.Verify(tt.chain)

			// Never more lenient than crypto/x509 with the same inputs.
			_, xerr := tt.chain[0].Verify(x509.VerifyOptions{
				Roots: testpki.Pool(tt.r.Roots...), Intermediates: testpki.Pool(append(tt.chain[1:], tt.r.Intermediates...)...),
				CurrentTime: tt.r.Time, KeyUsages: tt.r.usages(),
			})
			if xerr != nil {
				require.Error(t, err, "crypto/x509 rejects: %v", xerr)
			}

			if tt.want == nil {
				require.NoError(t, err)
				require.NotEmpty(t, res)
				assert.Equal(t, tt.wantPath, Path(res[0]))
				assert.Contains(t, tt.r.Roots, res[0][len(res[0])-1], "the first path ends at its anchor")
				return
			}
			require.Error(t, err)
			assert.Nil(t, res)
			var ve *VerifyError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tt.want, summary(ve.Problems))
			assert.Equal(t, tt.chain, ve.Chain)
			assert.True(t, strings.HasPrefix(err.Error(), "chain: "+Path(tt.chain)+" not accepted: "), err.Error())
			for _, d := range tt.details {
				assert.Contains(t, err.Error(), d)
			}
			for _, p := range ve.Problems {
				assert.ErrorIs(t, err, p.Err)
				assert.Contains(t, reasons(ve), p.Err)
				assert.NotEmpty(t, p.Detail)
			}
			if xerr != nil {
				require.Error(t, ve.err, "the crypto/x509 error is kept")
				assert.Equal(t, xerr.Error(), ve.err.Error())
				assert.Contains(t, ve.Unwrap(), ve.err)
			} else {
				assert.Nil(t, ve.err)
			}
		})
	}
}

func TestVerifyKey(t *testing.T) {
	p := newPKI(t)
	r := &Receiver{Roots: []*x509.Certificate{p.root.Cert}, Time: testpki.Now}
	_, err := r.VerifyKey(p.leaf.Key, p.leaf.Chain)
	require.NoError(t, err)
	_, err = r.VerifyKey(p.leaf.Key.Public(), p.leaf.Chain)
	require.NoError(t, err)

	_, err = r.VerifyKey(p.rsaLeaf.Key, p.leaf.Chain)
	require.ErrorIs(t, err, ErrKeyMismatch)
	assert.ErrorContains(t, err, "CN=client: key mismatch: the certificate holds a ecdsa.PublicKey public key that is not the RSA-2048 key")

	_, err = r.VerifyKey(nil, p.leaf.Chain)
	assert.ErrorContains(t, err, "chain: VerifyKey needs a key")
}

func TestVerifyBadInput(t *testing.T) {
	p := newPKI(t)
	r := &Receiver{Roots: []*x509.Certificate{p.root.Cert}, Time: testpki.Now}
	_, err := r.Verify(nil)
	assert.ErrorIs(t, err, ErrNoCertificates)
	_, err = r.Verify([]*x509.Certificate{p.leaf.Cert, nil})
	assert.ErrorContains(t, err, "chain: certificate 2 of 2 is nil")
}

func TestReceiverZeroValues(t *testing.T) {
	p := newPKI(t)
	// Time zero means the wall clock: build a hierarchy valid for an hour
	// or so around it, which a fixed-clock receiver at testpki.Now rejects.
	inter := p.root.Intermediate(t, "long inter", testpki.Validity(time.Now().Add(-time.Hour), time.Now().Add(2*time.Hour)))
	root := p.root.Reissue(t, testpki.Validity(time.Now().Add(-time.Hour), time.Now().Add(3*time.Hour)))
	wall := inter.Leaf(t, "wall", testpki.Validity(time.Now().Add(-time.Hour), time.Now().Add(time.Hour)))
	r := &Receiver{Roots: []*x509.Certificate{root.Cert}}
	_, err := r.Verify(wall.Chain)
	require.NoError(t, err, "zero Time is the current time")
	r.Time = testpki.Now
	_, err = r.Verify(wall.Chain)
	require.Error(t, err, "a fixed clock far from the wall clock rejects it")

	var zero Receiver
	_, err = zero.Verify(p.leaf.Chain)
	assert.ErrorIs(t, err, ErrUnknownAuthority, "the zero Receiver trusts nothing")
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, zero.usages())
	assert.Equal(t, 2048, zero.minRSABits())
}

func TestAcceptsAll(t *testing.T) {
	p := newPKI(t)
	r := &Receiver{Roots: []*x509.Certificate{p.root.Cert}, Time: testpki.Now}
	require.NoError(t, r.AcceptsAll(p.leaf.Chain, []*x509.Certificate{p.newLeaf.Cert, p.cross.Cert}))
	require.NoError(t, r.AcceptsAll())

	err := r.AcceptsAll(p.leaf.Chain, p.newLeaf.Chain, p.unknownLeaf.Chain)
	require.Error(t, err)
	var ce *VerifyError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, p.newLeaf.Chain, ce.Chain, "the first rejected chain is the second one")
	assert.ErrorIs(t, err, ErrIncompleteChain)
	assert.ErrorIs(t, err, ErrUnknownAuthority)
	assert.Equal(t, "chain: chain 2 of 3 is not accepted: CN=new client not accepted: CN=new client: incomplete chain: the client sent no issuer: "+
		`issuer "CN=New Root,O=certroll test" with key id `+keyID(p.newRoot.Cert.SubjectKeyId)+
		" is neither in the chain nor among the receiver's intermediates and roots; the client must send it, or the receiver must add it; "+
		`the receiver trusts "CN=Root,O=certroll test" (key id `+keyID(p.root.Cert.SubjectKeyId)+")\n"+
		"chain: chain 3 of 3 is not accepted: CN=stranger -> CN=Unknown Inter not accepted: CN=Unknown Inter: unknown authority: "+
		`issuer "CN=Unknown Root,O=certroll test" with key id `+keyID(p.unknownRoot.Cert.SubjectKeyId)+
		" is not trusted and not among the receiver's intermediates; the receiver trusts "+
		`"CN=Root,O=certroll test" (key id `+keyID(p.root.Cert.SubjectKeyId)+")", err.Error())
}

func TestAccepted(t *testing.T) {
	p := newPKI(t)
	r := &Receiver{Roots: []*x509.Certificate{p.root.Cert}, Time: testpki.Now}
	tests := []struct {
		name     string
		entries  map[string][]*x509.Certificate
		accepted []string
		want     []string // the ambiguous ones: accepted when two or more
	}{
		{"one accepted", map[string][]*x509.Certificate{"old": p.leaf.Chain, "new": p.newLeaf.Chain}, []string{"old"}, nil},
		{"none", map[string][]*x509.Certificate{"x": p.unknownLeaf.Chain}, nil, nil},
		{"two accepted", map[string][]*x509.Certificate{
			"tenant-2026": {p.newLeaf.Cert, p.cross.Cert}, "tenant-2025": p.leaf.Chain, "other": p.unknownLeaf.Chain,
		}, []string{"tenant-2025", "tenant-2026"}, []string{"tenant-2025", "tenant-2026"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.accepted, r.Accepted(tt.entries))
			got := r.Accepted(tt.entries)
			if len(got) < 2 {
				got = nil
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestReasonStrings(t *testing.T) {
	seen := map[string]bool{}
	for r := range problemWords {
		s := problemWord(r)
		assert.False(t, seen[s], "duplicate %q", s)
		seen[s] = true
		require.Error(t, r)
		assert.True(t, strings.HasPrefix(r.Error(), "chain: "))
	}
	assert.Len(t, seen, 12, "a word for each problem sentinel")
	assert.Equal(t, "several leaf certificates", problemWord(ErrSeveralLeaves))
	assert.Equal(t, "problem", problemWord(nil))
	assert.True(t, errors.Is(&VerifyError{Problems: []Problem{{Err: ErrWeakKey}}}, ErrWeakKey))
}
