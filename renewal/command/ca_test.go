package command

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// caNeedOpenSSL returns the openssl binary. Without it the test fails in CI
// (the CI environment variable is set) with the line that installs it, and
// is skipped elsewhere.
func caNeedOpenSSL(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		msg := "command: openssl not found: install it: apt-get install -y openssl"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// caTestCSR makes a key and a PEM certificate request for it.
func caTestCSR(t *testing.T) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	// The request asks for clientAuth, as a renewal request does, so that a
	// CA copying the requested extensions can be checked.
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 2}})
	require.NoError(t, err)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:         pkix.Name{CommonName: "tenant-client", Organization: []string{"certroll test"}},
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Value: eku}},
	}, key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), key
}

// caTestFiles writes an authority's certificate and key for openssl.
func caTestFiles(t *testing.T, dir, name string, ca *testpki.CA) (certPath, keyPath string) {
	t.Helper()
	certPath = filepath.Join(dir, name+".pem")
	keyPath = filepath.Join(dir, name+".key")
	require.NoError(t, os.WriteFile(certPath, testpki.PEM(ca.Cert), 0o600))
	require.NoError(t, os.WriteFile(keyPath, testpki.KeyPEM(t, ca.Key), 0o600))
	return certPath, keyPath
}

func caNames(certs []*x509.Certificate) []string {
	out := make([]string, len(certs))
	for i, c := range certs {
		out[i] = chain.Name(c)
	}
	return out
}

func TestCASignOpenSSL(t *testing.T) {
	t.Parallel()
	openssl := caNeedOpenSSL(t)
	dir := t.TempDir()
	root := testpki.NewRoot(t, "Tenant Root")
	inter := root.Intermediate(t, "Tenant Issuing CA")
	rootPEM, rootKey := caTestFiles(t, dir, "root", root)
	interPEM, interKey := caTestFiles(t, dir, "inter", inter)
	// A bundle the command hands back next to the leaf, root first.
	bundle := filepath.Join(dir, "bundle.pem")
	require.NoError(t, os.WriteFile(bundle, testpki.PEM(root.Cert, inter.Cert), 0o600))

	tests := []struct {
		name string
		ca   CA
		want []string
	}{
		{
			name: "CSR and chain in files, root from the pool",
			ca: CA{Argv: []string{openssl, "x509", "-req", "-in", "{csr}", "-CA", rootPEM, "-CAkey", rootKey,
				"-days", "30", "-out", "{out}"}, Pool: []*x509.Certificate{root.Cert}},
			want: []string{"CN=tenant-client", "CN=Tenant Root"},
		},
		{
			name: "stdin and stdout, DER, extensions copied from the request",
			ca: CA{Argv: []string{openssl, "x509", "-req", "-CA", rootPEM, "-CAkey", rootKey,
				"-days", "30", "-copy_extensions", "copy", "-outform", "DER"}, Pool: []*x509.Certificate{root.Cert}},
			want: []string{"CN=tenant-client", "CN=Tenant Root"},
		},
		{
			name: "intermediate signs, pool in any order",
			ca: CA{Argv: []string{openssl, "x509", "-req", "-in={csr}", "-CA", interPEM, "-CAkey", interKey,
				"-days", "30", "-out", "{out}"}, Pool: []*x509.Certificate{root.Cert, inter.Cert}},
			want: []string{"CN=tenant-client", "CN=Tenant Issuing CA", "CN=Tenant Root"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			csrPEM, key := caTestCSR(t)
			got, err := tt.ca.Sign(context.Background(), csrPEM)
			require.NoError(t, err)
			assert.Equal(t, tt.want, caNames(got))
			assert.True(t, chain.KeyMatches(key, got[0]), "the leaf is for the request's key")
			assert.Equal(t, root.Cert.Raw, got[len(got)-1].Raw, "the chain ends with the CA's root")
			if slices.Contains(tt.ca.Argv, "-copy_extensions") {
				assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, got[0].ExtKeyUsage)
			}
			for i := 0; i+1 < len(got); i++ {
				require.NoError(t, got[i].CheckSignatureFrom(got[i+1]), "certificate %d is issued by the next", i)
			}
		})
	}

	// A CA that answers with a PKCS#7 bundle, root first: the command here
	// hands back a reply signed beforehand by openssl, as a script in front
	// of a portal would.
	t.Run("PKCS#7 reply in any order", func(t *testing.T) {
		t.Parallel()
		sub := t.TempDir()
		csrPEM, key := caTestCSR(t)
		csrPath := filepath.Join(sub, "req.csr")
		leafPath := filepath.Join(sub, "leaf.pem")
		require.NoError(t, os.WriteFile(csrPath, csrPEM, 0o600))
		out, err := exec.Command(openssl, "x509", "-req", "-in", csrPath, "-CA", interPEM, "-CAkey", interKey,
			"-days", "30", "-out", leafPath).CombinedOutput()
		require.NoError(t, err, "%s", out)
		ca := CA{Argv: []string{openssl, "crl2pkcs7", "-nocrl", "-certfile", bundle, "-certfile", leafPath,
			"-outform", "DER", "-out", "{out}"}}
		got, err := ca.Sign(context.Background(), csrPEM)
		require.NoError(t, err)
		assert.Equal(t, []string{"CN=tenant-client", "CN=Tenant Issuing CA", "CN=Tenant Root"}, caNames(got))
		assert.True(t, chain.KeyMatches(key, got[0]))
	})
}

func TestCASignErrors(t *testing.T) {
	t.Parallel()
	openssl := caNeedOpenSSL(t)
	dir := t.TempDir()
	root := testpki.NewRoot(t, "Tenant Root")
	rootPEM, rootKey := caTestFiles(t, dir, "root", root)
	other := filepath.Join(dir, "other.pem")
	require.NoError(t, os.WriteFile(other, testpki.PEM(root.Leaf(t, "someone else").Cert), 0o600))
	sign := func(day string) []string {
		return []string{openssl, "x509", "-req", "-in", "{csr}", "-CA", rootPEM, "-CAkey", rootKey, "-days", day, "-out", "{out}"}
	}

	tests := []struct {
		name     string
		ca       CA
		is       error  // a sentinel the error matches, if any
		contains string // text the message must hold
		code     int    // ExitCode: >0 any non-zero exit, 0 success, -1 not exited
	}{
		{
			name:     "command fails: its output is in the error",
			ca:       CA{Argv: []string{openssl, "x509", "-req", "-in", "{csr}", "-CA", rootPEM, "-CAkey", filepath.Join(dir, "missing.key"), "-out", "{out}"}},
			contains: "missing.key",
			code:     1,
		},
		{
			name:     "command not found",
			ca:       CA{Argv: []string{filepath.Join(dir, "no-such-signer")}},
			is:       os.ErrNotExist,
			contains: "no-such-signer",
			code:     -1,
		},
		{
			name: "timeout",
			ca:   CA{Argv: []string{"sleep", "60"}, Timeout: 50e6},
			is:   context.DeadlineExceeded,
			code: -1,
		},
		{
			name:     "output is not a certificate",
			ca:       CA{Argv: []string{openssl, "version"}},
			is:       keystore.ErrMalformed,
			contains: "read the chain",
		},
		{
			name:     "output is another key's certificate",
			ca:       CA{Argv: []string{openssl, "x509", "-in", other}},
			contains: "no certificate for the request's key among 1 certificates (CN=someone else)",
		},
		{
			name:     "root neither in the output nor in the pool",
			ca:       CA{Argv: sign("30")},
			is:       chain.ErrMissingIssuer,
			contains: "add the CA's intermediates and root to CA.Pool",
		},
		{
			name:     "empty argv",
			ca:       CA{},
			contains: "CA.Argv is empty",
			code:     -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			csrPEM, _ := caTestCSR(t)
			got, err := tt.ca.Sign(context.Background(), csrPEM)
			require.Error(t, err)
			assert.Nil(t, got)
			var ce *CAError
			require.ErrorAs(t, err, &ce)
			assert.Regexp(t, `^command: `, err.Error())
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.Contains(t, err.Error(), tt.contains)
			switch {
			case tt.code > 0:
				assert.Positive(t, ce.ExitCode)
			default:
				assert.Equal(t, tt.code, ce.ExitCode)
			}
		})
	}
}

func TestCASignBadCSR(t *testing.T) {
	t.Parallel()
	csrPEM, _ := caTestCSR(t)
	block, _ := pem.Decode(csrPEM)
	tampered := bytes.Clone(block.Bytes)
	tampered[len(tampered)-1] ^= 1
	tests := []struct {
		name, input, want string
	}{
		{"not PEM", "hello", "found no PEM block in 5 bytes"},
		{"a certificate", string(testpki.PEM(testpki.NewRoot(t, "R").Cert)), `found "CERTIFICATE"`},
		{"bad signature", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered})), "command: not a valid certificate request"},
	}
	// The command would fail the test if it ran: nothing is run for a bad
	// request.
	ca := &CA{Argv: []string{"false"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ca.Sign(context.Background(), []byte(tt.input))
			require.ErrorIs(t, err, ErrBadCSR)
			assert.False(t, errors.As(err, new(*CAError)), "the command did not run")
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// A tenant CA kept as two files and signed with openssl. The chain printed
// depends on the CA's files, so this example has no output to check.
func ExampleCA() {
	root, err := os.ReadFile("/etc/tenant-ca/ca.pem")
	if err != nil {
		fmt.Println(err)
		return
	}
	roots, err := keystore.ParseCertificates(root)
	if err != nil {
		fmt.Println(err)
		return
	}
	ca := &CA{
		Argv: []string{"openssl", "x509", "-req", "-in", "{csr}",
			"-CA", "/etc/tenant-ca/ca.pem", "-CAkey", "/etc/tenant-ca/ca.key",
			"-days", "365", "-copy_extensions", "copy", "-out", "{out}"},
		Pool:    roots, // openssl x509 -req writes only the leaf
		Timeout: 30 * time.Second,
	}
	csrPEM, err := os.ReadFile("renewal.csr")
	if err != nil {
		fmt.Println(err)
		return
	}
	issued, err := ca.Sign(context.Background(), csrPEM)
	if err != nil {
		fmt.Println(err) // a *CAError with openssl's own message
		return
	}
	for _, c := range issued {
		fmt.Println(chain.Name(c))
	}
}

// caPlan is an overlap plan with two nodes, for the runbook tests.
func caPlan(t *testing.T, seq renewal.Sequence) *renewal.Plan {
	t.Helper()
	fp := func(c *x509.Certificate) string { return keystore.CertFingerprint(c).Hex() }
	oldRoot, newRoot := testpki.NewRoot(t, "Old Root"), testpki.NewRoot(t, "New Root")
	p, err := renewal.Build(seq, renewal.Params{
		Alias: "tenant-client", Keystore: "/srv/tenant/client.p12", Nodes: []string{"node-1", "node-2"},
		OldFingerprint: fp(oldRoot.Leaf(t, "tenant-client").Cert),
		OldRootSubject: oldRoot.Cert.Subject.String(), OldRootFingerprint: fp(oldRoot.Cert),
		NewRootSubject: newRoot.Cert.Subject.String(), NewRootFingerprint: fp(newRoot.Cert),
		Window: renewal.Window{Start: testpki.Now, End: testpki.Now.Add(time.Hour)},
	})
	require.NoError(t, err)
	return p
}

// TestCAInstructionsRunByHand checks that the command the runbook prints
// for step 1 is the one a person can run: run by a shell in a folder
// holding request.csr, it writes reply.pem with the certificate for the
// request's key.
func TestCAInstructionsRunByHand(t *testing.T) {
	openssl := caNeedOpenSSL(t)
	sh, err := exec.LookPath("sh")
	require.NoError(t, err)
	root := testpki.NewRoot(t, "Tenant Root")
	caDir := filepath.Join(t.TempDir(), "tenant ca") // a space, to need quoting
	require.NoError(t, os.Mkdir(caDir, 0o700))
	rootPEM, rootKey := caTestFiles(t, caDir, "root", root)
	for _, tc := range []struct {
		name string
		argv []string
		want string
	}{
		{"files", []string{openssl, "x509", "-req", "-in", "{csr}", "-CA", rootPEM, "-CAkey", rootKey, "-days", "30", "-out", "{out}"},
			openssl + " x509 -req -in request.csr -CA '" + rootPEM + "' -CAkey '" + rootKey + "' -days 30 -out reply.pem"},
		{"stdin and stdout", []string{openssl, "x509", "-req", "-CA", rootPEM, "-CAkey", rootKey, "-days", "30"},
			openssl + " x509 -req -CA '" + rootPEM + "' -CAkey '" + rootKey + "' -days 30 < request.csr > reply.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := &CA{Argv: tc.argv, Env: []string{"CA_PASS=secret-pass"}}
			lines := ca.Instructions(renewal.Step{ID: renewal.StepGenerateKey})
			require.Len(t, lines, 2)
			assert.True(t, strings.HasPrefix(lines[0], "# "))
			assert.Equal(t, tc.want, lines[1])
			assert.NotContains(t, strings.Join(lines, "\n"), "secret-pass", "Env is not shown")

			work := t.TempDir()
			csrPEM, key := caTestCSR(t)
			require.NoError(t, os.WriteFile(filepath.Join(work, "request.csr"), csrPEM, 0o644))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, sh, "-c", lines[1])
			cmd.Dir = work
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			reply, err := os.ReadFile(filepath.Join(work, "reply.pem"))
			require.NoError(t, err)
			certs, err := keystore.ParseCertificates(reply)
			require.NoError(t, err)
			require.NotEmpty(t, certs)
			assert.True(t, chain.KeyMatches(key, certs[0]), "the reply is for the request's key")
		})
	}
	assert.Nil(t, (&CA{Argv: []string{"x"}}).Instructions(renewal.Step{ID: renewal.StepSwapEntry}))
	dirCA := &CA{Argv: []string{"step", "ca", "sign", "{csr}", "{out}"}, Dir: "/etc/step ca"}
	assert.Equal(t, []string{"cd '/etc/step ca'", "step ca sign request.csr reply.pem"}, dirCA.Instructions(renewal.Step{ID: renewal.StepGenerateKey})[1:])
}

// TestRunbookWithCommandAdapters renders the runbook with the command CA
// and runtime: the signing command is under step 1, each node's restart
// and presents commands under the restart step, and nothing else changes.
func TestRunbookWithCommandAdapters(t *testing.T) {
	ca := &CA{Argv: []string{"openssl", "x509", "-req", "-in", "{csr}", "-CA", "/etc/tenant-ca/ca.pem", "-CAkey", "/etc/tenant-ca/ca.key", "-days", "365", "-out", "{out}"}}
	rt, err := NewRuntime(RuntimeConfig{Nodes: []Node{
		{Name: "node-1", Stop: []string{"systemctl", "stop", "flow@{node}"}, Start: []string{"systemctl", "start", "flow@{node}"},
			Restart: []string{"systemctl", "restart", "flow@{node}"}, Presents: []string{"/usr/local/bin/presents", "{node}"}},
		{Name: "node-2", Stop: []string{"systemctl", "stop", "flow@{node}"}, Start: []string{"systemctl", "start", "flow@{node}"},
			Presents: []string{"/usr/local/bin/presents", "{node}"}},
	}})
	require.NoError(t, err)

	item := func(md string, n int) string {
		t.Helper()
		head := fmt.Sprintf("\n- [ ] %d. ", n)
		i := strings.Index(md, head)
		require.GreaterOrEqual(t, i, 0, "step %d", n)
		rest := md[i+1:]
		if j := strings.Index(rest[1:], "\n- [ ] "); j >= 0 {
			rest = rest[:j+2]
		}
		if j := strings.Index(rest, "\n## "); j >= 0 {
			rest = rest[:j+1]
		}
		return rest
	}

	overlap := caPlan(t, renewal.SequenceOverlap)
	md := overlap.Markdown(ca, rt)
	assert.Contains(t, item(md, 1), "  - By hand:\n"+
		"    - With the new key's certificate request in request.csr, the CA signs it; the reply, in reply.pem, is installed onto the new key:\n"+
		"    - `openssl x509 -req -in request.csr -CA /etc/tenant-ca/ca.pem -CAkey /etc/tenant-ca/ca.key -days 365 -out reply.pem`\n")
	assert.Contains(t, item(md, 7), "  - By hand:\n"+
		"    - Restart the flow on every node:\n"+
		"    - `systemctl restart flow@node-1`\n"+
		"    - `systemctl stop flow@node-2`\n"+
		"    - `systemctl start flow@node-2`\n"+
		"    - Check that every node presents the new certificate (each prints it, or its SHA-256 fingerprint):\n"+
		"    - `/usr/local/bin/presents node-1`\n"+
		"    - `/usr/local/bin/presents node-2`\n")
	assert.Equal(t, 2, strings.Count(md, "By hand:"))
	assert.NotEqual(t, overlap.Markdown(), md)
	assert.Equal(t, overlap.Markdown(), overlap.Markdown(nil, "not an adapter"), "values without instructions change nothing")

	downtime := caPlan(t, renewal.SequenceDowntime)
	md = downtime.Markdown(ca, rt)
	assert.Contains(t, item(md, 4), "    - `systemctl stop flow@node-1`\n    - `systemctl stop flow@node-2`\n")
	assert.Contains(t, item(md, 11), "    - Start the flow on every node (it was stopped in step 4):\n    - `systemctl start flow@node-1`\n    - `systemctl start flow@node-2`\n")
	assert.NotContains(t, item(md, 11), "restart flow@")
	assert.Equal(t, 3, strings.Count(md, "By hand:"))
}
