package java_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/java"
)

// password opens the test keystores. It is ASCII because JDK 17 opens a
// PKCS#12 keystore only with an ASCII password ("Password is not ASCII");
// jksPassword is not, to show that any UTF-8 password reaches the JVM.
var password = []byte("changeit-p12")

var jksPassword = []byte("chang€it")

func passwordFor(f keystore.Format) []byte {
	if f == keystore.JKS {
		return jksPassword
	}
	return password
}

// bothRoots is a receiver that trusts and advertises the old and the new
// client root: the state after step "trust the new root" of an overlap
// renewal, with a reloaded server.
func bothRoots(p *pki) *tls.Config {
	return &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: testpki.Pool(p.oldRoot.Cert, p.newRoot.Cert)}
}

func newRuntime(t *testing.T, p *pki, ks string, pw []byte, rcv *receiver, nodes int) *java.Runtime {
	t.Helper()
	rt, err := java.New(java.Config{
		Nodes:            nodes,
		Keystore:         ks,
		KeystorePassword: pw,
		URL:              rcv.srv.URL + "/flow",
		ServerRoots:      []*x509.Certificate{p.serverRoot.Cert},
		Rate:             10,
		Dir:              t.TempDir(),
	})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, rt.Close()) })
	return rt
}

// presents waits for node to report a certificate and returns it.
func presents(t *testing.T, rt *java.Runtime, node string) *x509.Certificate {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := rt.Presents(ctx, node)
	require.NoError(t, err, "node %s", node)
	require.NotNil(t, c, "node %s presents nothing", node)
	return c
}

// moreRequests waits until node has reported n requests more than now.
func moreRequests(t *testing.T, rt *java.Runtime, node string, n int) {
	t.Helper()
	base := rt.Stats().Nodes[node].Requests
	eventually(t, fmt.Sprintf("%d more requests from %s", n, node), func() bool {
		return rt.Stats().Nodes[node].Requests >= base+n
	})
}

func fp(c *x509.Certificate) keystore.Fingerprint { return keystore.CertFingerprint(c) }

// TestCachesKeystoreUntilRestart: a node keeps presenting the certificate
// it loaded at start after the keystore entry is replaced, and presents the
// new one after a restart, for either keystore format.
func TestCachesKeystoreUntilRestart(t *testing.T) {
	needJava(t)
	for _, f := range []keystore.Format{keystore.JKS, keystore.PKCS12} {
		t.Run(f.String(), func(t *testing.T) {
			p := newPKI(t)
			rcv := startReceiver(t, p, bothRoots(p))
			ks := writeKeystore(t, f, p.oldLeaf, passwordFor(f))
			rt := newRuntime(t, p, ks, passwordFor(f), rcv, 1)
			ctx := context.Background()

			c, err := rt.Presents(ctx, "node-1")
			require.NoError(t, err)
			assert.Nil(t, c, "a node that was never started presents nothing")

			require.NoError(t, rt.Start(ctx, "node-1"))
			assert.Equal(t, fp(p.oldLeaf.Cert), fp(presents(t, rt, "node-1")))
			require.NoError(t, rt.Start(ctx, "node-1"), "starting a running node")
			assert.Equal(t, 1, rt.Stats().Nodes["node-1"].Starts)

			replaceEntry(t, ks, passwordFor(f), p.newLeaf)
			moreRequests(t, rt, "node-1", 3)
			assert.Equal(t, fp(p.oldLeaf.Cert), fp(presents(t, rt, "node-1")), "the cached keystore until the restart")
			assert.Equal(t, fp(p.oldLeaf.Cert), rcv.lastSeen(), "the receiver saw the old certificate")

			require.NoError(t, rt.Restart(ctx, "node-1"))
			assert.Equal(t, fp(p.newLeaf.Cert), fp(presents(t, rt, "node-1")))
			moreRequests(t, rt, "node-1", 1)
			assert.Equal(t, fp(p.newLeaf.Cert), rcv.lastSeen(), "the receiver saw the new certificate")

			require.NoError(t, rt.Stop(ctx, "node-1"))
			require.NoError(t, rt.Stop(ctx, "node-1"), "stopping a stopped node")
			c, err = rt.Presents(ctx, "node-1")
			require.NoError(t, err)
			assert.Nil(t, c, "a stopped node presents nothing")

			st := rt.Stats()
			assert.Zero(t, st.Failures, "failed: %+v", st.Failed)
			assert.Equal(t, []keystore.Fingerprint{fp(p.oldLeaf.Cert), fp(p.newLeaf.Cert)}, st.Nodes["node-1"].Sequence)
			assert.Equal(t, 2, st.Nodes["node-1"].Starts)
			assert.False(t, st.Nodes["node-1"].Running)
			assert.Empty(t, st.Nodes["node-1"].LastExit)
		})
	}
}

// TestRestartOneOfThree: restarting one node of three while the others
// keep sending loses no request; the restarted node presents the new
// certificate and the others keep the old one.
func TestRestartOneOfThree(t *testing.T) {
	needJava(t)
	p := newPKI(t)
	rcv := startReceiver(t, p, bothRoots(p))
	ks := writeKeystore(t, keystore.JKS, p.oldLeaf, jksPassword)
	rt := newRuntime(t, p, ks, jksPassword, rcv, 3)
	ctx := context.Background()
	require.NoError(t, rt.StartAll(ctx))
	for _, n := range []string{"node-1", "node-2", "node-3"} {
		assert.Equal(t, fp(p.oldLeaf.Cert), fp(presents(t, rt, n)), n)
	}

	replaceEntry(t, ks, jksPassword, p.newLeaf)
	before := rt.Stats()
	require.NoError(t, rt.Restart(ctx, "node-2"))
	after := rt.Stats()
	for _, n := range []string{"node-1", "node-3"} {
		// The other JVMs ran on through node-2's restart: same process,
		// not started again (moreRequests below shows them still sending).
		assert.Equal(t, before.Nodes[n].PID, after.Nodes[n].PID, "%s was not restarted", n)
		assert.Equal(t, before.Nodes[n].Starts, after.Nodes[n].Starts, "%s was not restarted", n)
		assert.True(t, after.Nodes[n].Running, n)
	}
	assert.Equal(t, fp(p.newLeaf.Cert), fp(presents(t, rt, "node-2")))
	for _, n := range []string{"node-1", "node-3"} {
		moreRequests(t, rt, n, 2)
		assert.Equal(t, fp(p.oldLeaf.Cert), fp(presents(t, rt, n)), "%s still caches the old keystore", n)
	}
	moreRequests(t, rt, "node-2", 2)

	for _, n := range []string{"node-1", "node-2", "node-3"} {
		require.NoError(t, rt.Stop(ctx, n))
	}
	st := rt.Stats()
	assert.Zero(t, st.Failures, "failed: %+v", st.Failed)
	assert.GreaterOrEqual(t, rcv.accepted.Load(), int64(st.Requests), "every request the nodes reported reached the handler")
	old, nw := fp(p.oldLeaf.Cert), fp(p.newLeaf.Cert)
	assert.Equal(t, []keystore.Fingerprint{old}, st.Nodes["node-1"].Sequence)
	assert.Equal(t, []keystore.Fingerprint{old, nw}, st.Nodes["node-2"].Sequence)
	assert.Equal(t, []keystore.Fingerprint{old}, st.Nodes["node-3"].Sequence)
}

// TestAdvertisedNamesDecide is the HAProxy runtime-API case: a server that
// verifies client certificates against both roots but advertises only the
// old root's name. Go's client presents the new certificate and gets 200;
// the Java node, whose default key manager finds no entry issued by an
// advertised name, presents none and fails; once the server advertises
// both names (after a reload), the same running node presents the new
// certificate.
func TestAdvertisedNamesDecide(t *testing.T) {
	needJava(t)
	p := newPKI(t)
	var advertiseBoth atomic.Bool
	verify := func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("no client certificate")
		}
		leaf, err := x509.ParseCertificate(raw[0])
		if err != nil {
			return err
		}
		_, err = leaf.Verify(x509.VerifyOptions{Roots: testpki.Pool(p.oldRoot.Cert, p.newRoot.Cert),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		return err
	}
	rcv := startReceiver(t, p, &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			advertised := testpki.Pool(p.oldRoot.Cert)
			if advertiseBoth.Load() {
				advertised = testpki.Pool(p.oldRoot.Cert, p.newRoot.Cert)
			}
			return &tls.Config{
				Certificates: []tls.Certificate{p.server},
				// Verification by hand against both roots; ClientCAs only
				// sets the names advertised in the CertificateRequest.
				ClientAuth:            tls.RequireAnyClientCert,
				ClientCAs:             advertised,
				VerifyPeerCertificate: verify,
			}, nil
		},
	})

	// A client that presents its certificate whatever the server
	// advertises, as curl does (Go's client, given Certificates, filters
	// them by the advertised names as Java does; GetClientCertificate
	// does not).
	newCert := p.newLeaf.TLSCertificate()
	goClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: testpki.Pool(p.serverRoot.Cert),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &newCert, nil
		},
	}}}
	t.Cleanup(goClient.CloseIdleConnections)
	resp, err := goClient.Get(rcv.srv.URL)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the server accepts the new certificate")

	ks := writeKeystore(t, keystore.PKCS12, p.newLeaf, password)
	rt := newRuntime(t, p, ks, password, rcv, 1)
	ctx := context.Background()
	require.NoError(t, rt.Start(ctx, "node-1"))

	c, err := rt.Presents(ctx, "node-1")
	assert.Nil(t, c)
	require.ErrorIs(t, err, java.ErrNoCertificate)
	var nc *java.NoCertificateError
	require.ErrorAs(t, err, &nc)
	assert.Equal(t, []string{p.oldRoot.Cert.Subject.String()}, nc.Advertised)
	assert.Equal(t, []string{p.newRoot.Cert.Subject.String()}, nc.Issuers)
	assert.Contains(t, err.Error(), p.oldRoot.Cert.Subject.String())
	moreRequests(t, rt, "node-1", 2)
	st := rt.Stats()
	assert.Equal(t, st.Requests, st.Failures, "every request of the node failed")
	require.NotEmpty(t, st.Failed)
	assert.Equal(t, keystore.Fingerprint{}, st.Failed[0].Presented)
	assert.Zero(t, st.Failed[0].Status)
	assert.NotEmpty(t, st.Failed[0].Error)

	// The reload: the server advertises both names; the node, not
	// restarted, chooses the new certificate in its next handshake.
	advertiseBoth.Store(true)
	eventually(t, "the node presents the new certificate", func() bool {
		c, err := rt.Presents(ctx, "node-1")
		return err == nil && c != nil && fp(c) == fp(p.newLeaf.Cert)
	})
	failures := rt.Stats().Failures
	moreRequests(t, rt, "node-1", 2)
	assert.Equal(t, failures, rt.Stats().Failures, "no failure once both names are advertised")
	assert.Equal(t, fp(p.newLeaf.Cert), rcv.lastSeen())
	assert.Equal(t, 1, rt.Stats().Nodes["node-1"].Starts, "no restart was needed")
}

// TestStartWrongPassword: a JVM that cannot open the keystore is reported
// with what it said, without the password, and the node stays stopped.
func TestStartWrongPassword(t *testing.T) {
	needJava(t)
	p := newPKI(t)
	rcv := startReceiver(t, p, bothRoots(p))
	secret := []byte("the-real-secret")
	ks := writeKeystore(t, keystore.JKS, p.oldLeaf, secret)
	rt := newRuntime(t, p, ks, jksPassword, rcv, 1) // the wrong password
	err := rt.Start(context.Background(), "node-1")
	var se *java.StartError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "node-1", se.Node)
	assert.Contains(t, strings.ToLower(se.Fatal), "password")
	assert.NotContains(t, err.Error(), string(jksPassword))
	assert.NotContains(t, err.Error(), string(secret))
	c, err := rt.Presents(context.Background(), "node-1")
	assert.NoError(t, err)
	assert.Nil(t, c)
	assert.False(t, rt.Stats().Nodes["node-1"].Running)
}

// TestNewChecksConfig needs no JVM: every field that cannot work is named.
func TestNewChecksConfig(t *testing.T) {
	dir := t.TempDir()
	ks := filepath.Join(dir, "client.jks")
	require.NoError(t, os.WriteFile(ks, []byte("x"), 0o600))
	good := java.Config{Keystore: ks, URL: "https://127.0.0.1:1/", Dir: dir}
	tests := []struct {
		name  string
		edit  func(*java.Config)
		field string
	}{
		{"no keystore", func(c *java.Config) { c.Keystore = "" }, "Keystore"},
		{"missing keystore", func(c *java.Config) { c.Keystore = filepath.Join(dir, "nope.jks") }, "Keystore"},
		{"http URL", func(c *java.Config) { c.URL = "http://127.0.0.1:1/" }, "URL"},
		{"no host", func(c *java.Config) { c.URL = "https:///x" }, "URL"},
		{"negative nodes", func(c *java.Config) { c.Nodes = -1 }, "Nodes"},
		{"rate too high", func(c *java.Config) { c.Rate = 5000 }, "Rate"},
		{"negative timeout", func(c *java.Config) { c.Timeout = -time.Second }, "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			_, err := java.New(c)
			var ce *java.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.field, ce.Field)
			assert.True(t, strings.HasPrefix(err.Error(), "java: "), err.Error())
		})
	}

	rt, err := java.New(good)
	require.NoError(t, err)
	nodes, err := rt.Nodes(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"node-1", "node-2"}, nodes)
	src, err := os.ReadFile(filepath.Join(dir, "Node.java"))
	require.NoError(t, err)
	assert.Equal(t, java.Source(), src)
	assert.ErrorIs(t, rt.Start(context.Background(), "node-9"), java.ErrUnknownNode)
	require.NoError(t, rt.Close())
}

// TestNodeProcess: the passwords are not on the JVM's command line; a node
// whose JVM dies is reported stopped, with how it ended, and starts again.
func TestNodeProcess(t *testing.T) {
	needJava(t)
	p := newPKI(t)
	rcv := startReceiver(t, p, bothRoots(p))
	ks := writeKeystore(t, keystore.JKS, p.oldLeaf, jksPassword)
	rt := newRuntime(t, p, ks, jksPassword, rcv, 1)
	ctx := context.Background()
	require.NoError(t, rt.Start(ctx, "node-1"))
	pid := rt.Stats().Nodes["node-1"].PID
	require.NotZero(t, pid)

	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
		assert.Contains(t, string(cmdline), "Node.java", "the JVM's command line was read")
		assert.NotContains(t, string(cmdline), string(jksPassword))
		assert.NotContains(t, string(cmdline), base64.StdEncoding.EncodeToString(jksPassword))
	}

	proc, err := os.FindProcess(pid)
	require.NoError(t, err)
	require.NoError(t, proc.Kill())
	eventually(t, "the runtime notices the JVM died", func() bool { return !rt.Stats().Nodes["node-1"].Running })
	c, err := rt.Presents(ctx, "node-1")
	require.NoError(t, err)
	assert.Nil(t, c, "a dead node presents nothing")
	assert.Contains(t, rt.Stats().Nodes["node-1"].LastExit, "exited on its own")

	require.NoError(t, rt.Start(ctx, "node-1"))
	assert.Equal(t, fp(p.oldLeaf.Cert), fp(presents(t, rt, "node-1")))
	assert.Empty(t, rt.Stats().Nodes["node-1"].LastExit)
	assert.Equal(t, 2, rt.Stats().Nodes["node-1"].Starts)
}

// TestPresentsBeforeAnyRequest: a node whose server never asks for a
// client certificate cannot tell what it presents; Presents says so once
// its wait ends.
func TestPresentsBeforeAnyRequest(t *testing.T) {
	needJava(t)
	p := newPKI(t)
	rcv := startReceiver(t, p, &tls.Config{ClientAuth: tls.NoClientCert})
	ks := writeKeystore(t, keystore.JKS, p.oldLeaf, jksPassword)
	rt := newRuntime(t, p, ks, jksPassword, rcv, 1)
	require.NoError(t, rt.Start(context.Background(), "node-1"))
	moreRequests(t, rt, "node-1", 2)
	sent := rt.Stats().Nodes["node-1"].Requests

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	c, err := rt.Presents(ctx, "node-1")
	assert.Nil(t, c)
	var nr *java.NoReportError
	require.ErrorAs(t, err, &nr)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	// The error counts every request the node made, none of which the
	// server asked a certificate for: at least those sent before the call.
	assert.True(t, nr.Requests >= sent && sent > 0, "the error counts %d requests, %d were sent before it", nr.Requests, sent)
	assert.Contains(t, err.Error(), "asks for client certificates")
	assert.Zero(t, rt.Stats().Failures, "the requests themselves succeeded")
}

// TestNewCreatesDir needs no JVM: a Config.Dir that does not exist yet is
// created (0700, with its parents) and holds Node.java; it stays after
// Close. A Dir that is a file is refused, naming the field.
func TestNewCreatesDir(t *testing.T) {
	base := t.TempDir()
	ks := filepath.Join(base, "client.jks")
	require.NoError(t, os.WriteFile(ks, []byte("x"), 0o600))
	dir := filepath.Join(base, "landscape", "java")
	rt, err := java.New(java.Config{Keystore: ks, URL: "https://127.0.0.1:1/", Dir: dir})
	require.NoError(t, err)
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.True(t, fi.IsDir())
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	src, err := os.ReadFile(filepath.Join(dir, "Node.java"))
	require.NoError(t, err)
	assert.Equal(t, java.Source(), src)
	require.NoError(t, rt.Close())
	_, err = os.Stat(filepath.Join(dir, "Node.java"))
	assert.NoError(t, err, "a Config.Dir stays after Close")

	_, err = java.New(java.Config{Keystore: ks, URL: "https://127.0.0.1:1/", Dir: ks})
	var ce *java.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "Dir", ce.Field)
	assert.ErrorContains(t, err, "is not a directory")
}

// TestInstructionsStartANode runs the restart step's lines of the runbook
// with bash, as a person would, typing the password at read -rs: the node
// they start presents the keystore's certificate to the receiver. The
// password is not on the command line, and the stop step and other steps
// say nothing that runs.
func TestInstructionsStartANode(t *testing.T) {
	javaBin := needJava(t)
	bash, err := exec.LookPath("bash")
	require.NoError(t, err)
	p := newPKI(t)
	ks := writeKeystore(t, keystore.JKS, p.oldLeaf, jksPassword)
	rcv := startReceiver(t, p, bothRoots(p))
	rt, err := java.New(java.Config{Nodes: 2, Keystore: ks, KeystorePassword: jksPassword, URL: rcv.srv.URL + "/flow",
		ServerRoots: []*x509.Certificate{p.serverRoot.Cert}, Rate: 10, Java: javaBin, Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, rt.Close()) })

	assert.Nil(t, rt.Instructions(renewal.Step{ID: renewal.StepSwapEntry}))
	for _, l := range rt.Instructions(renewal.Step{ID: renewal.StepStopFlow}) {
		assert.True(t, strings.HasPrefix(l, "#"), "stopping is explained, not run: %q", l)
	}
	lines := rt.Instructions(renewal.Step{ID: renewal.StepRestartNodes, Number: 7})
	require.NotEmpty(t, lines)
	var run []string // the lines of node-1: the password, then its start
	for _, l := range lines {
		assert.NotContains(t, l, string(jksPassword))
		if l == "read -rs STOREPASS" || strings.HasSuffix(l, "--name node-1") || strings.Contains(l, "--name node-1 ") {
			run = append(run, l)
		}
	}
	require.Len(t, run, 2, "%q", lines)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "-c", strings.Join(run, "\n"))
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	_, err = io.WriteString(stdin, string(jksPassword)+"\n")
	require.NoError(t, err)

	want := keystore.CertFingerprint(p.oldLeaf.Cert).Hex()
	sc := bufio.NewScanner(stdout)
	found := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"presented":"`+want+`"`) {
			found = true
			break
		}
	}
	require.True(t, found, "no request presenting %s; stderr: %s", want, stderr.String())
	assert.Equal(t, keystore.CertFingerprint(p.oldLeaf.Cert), rcv.lastSeen(), "the receiver saw the node's certificate")
	require.NoError(t, stdin.Close(), "Ctrl-D ends the node")
}
