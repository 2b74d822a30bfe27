package local

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// needProgram returns the path of a program a test runs. Without it the
// test fails in CI (the CI environment variable is set) with the line that
// installs it, and is skipped elsewhere.
func needProgram(t *testing.T, name, aptPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := "local: " + name + " not found: install it: apt-get install -y " + aptPackage
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// javaRequest sends one request to the receiver with testdata/JavaClient.java,
// which uses JDK 17's default key manager on the JKS at path, and returns
// what it printed: "status N" or "error: ...".
func javaRequest(t *testing.T, java, path, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, java, filepath.Join("testdata", "JavaClient.java"), path, url)
	cmd.Stdin = bytes.NewReader(append(append([]byte(nil), storePassword...), '\n'))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return strings.TrimSpace(string(out))
}

// TestKeyManagerAgreesWithJava checks the node's choice of certificate
// against a real JDK 17 client holding the same keystore (an entry issued
// under the old root and one under the new), for each set of names the
// receiver advertises: both present the same certificate, as the
// receiver records it, or both present none and fail.
func TestKeyManagerAgreesWithJava(t *testing.T) {
	java := needProgram(t, "java", "openjdk-17-jdk-headless")
	ctx := context.Background()
	l := newLandscape(t)
	renewed := renewClient(t, l.newCA, l.old.leaf())
	third := newTestCA(t, "Third Root CA")
	require.NoError(t, l.receiver.TrustRoot(ctx, l.newCA.Root()))
	require.NoError(t, l.receiver.AcceptClient(ctx, renewed.chain))
	path := writeKeystore(t, map[string]identity{"legacy": l.old, tenantAlias: renewed}, "legacy", tenantAlias)
	rt, err := NewRuntime(RuntimeConfig{Nodes: 1, Keystore: path, KeystorePassword: storePassword, Alias: tenantAlias,
		Receiver: l.receiver, Rate: 1000, MaxMessages: 1})
	require.NoError(t, err)
	require.NoError(t, rt.Start(ctx, "node-1"))

	// With one entry matching, Java's choice is determined; with both, it
	// is whichever its map yields first, so that case is not compared.
	tests := []struct {
		name      string
		advertise *x509.Certificate
		want      *x509.Certificate // nil: none presented
	}{
		{"only the old root advertised", l.oldCA.Root(), l.old.leaf()},
		{"only the new root advertised", l.newCA.Root(), renewed.leaf()},
		{"only an unrelated root advertised", third.Root(), nil},
	}
	before := rt.Stats()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, l.receiver.AdvertiseOnly(tc.advertise))
			served := l.receiver.servedByFingerprint()
			got := javaRequest(t, java, path, l.receiver.serving())
			javaServed := diff(l.receiver.servedByFingerprint(), served)

			st := rt.Run(ctx)
			node := st.PerNode["node-1"]
			nodeFailed := node.Failed - before.PerNode["node-1"].Failed
			nodePresented := diff(node.Presented, before.PerNode["node-1"].Presented)
			before = st

			if tc.want == nil {
				assert.True(t, strings.HasPrefix(got, "error: "), "Java presents no certificate and fails: %s", got)
				assert.Empty(t, javaServed)
				assert.Equal(t, 1, nodeFailed, "the node presents none and fails too")
				assert.Empty(t, nodePresented)
				assert.ErrorIs(t, st.Failures[len(st.Failures)-1].Err, ErrNoCertificate)
				return
			}
			assert.Equal(t, "status 200", got)
			assert.Equal(t, map[string]int{fp(tc.want): 1}, javaServed, "Java presented the entry issued under the advertised root")
			assert.Zero(t, nodeFailed, "%v", st.Failures)
			assert.Equal(t, map[string]int{fp(tc.want): 1}, nodePresented, "the node presented the same entry")
		})
	}
}

// diff returns the counts in now that grew since then.
func diff(now, then map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range now {
		if d := v - then[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}
