package trustfiles

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/truststore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"plain", "/etc/nginx/client-ca.pem"},
		{"space", "/srv/my dir/ca.pem"},
		{"quote", "it's"},
		{"dollar", "$(rm -rf /)"},
		{"empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The shell gives back the string as it was.
			out, err := exec.Command("sh", "-c", "printf %s "+Quote(tc.in)).Output()
			assert.NoError(t, err)
			assert.Equal(t, tc.in, string(out))
		})
	}
	assert.Equal(t, "/etc/x", Quote("/etc/x"), "a plain path is not quoted")
}

func TestHostPort(t *testing.T) {
	assert.Equal(t, "receiver.example:8443", HostPort("https://receiver.example:8443/health"))
	assert.Equal(t, "receiver.example:443", HostPort("https://receiver.example/"))
	assert.Equal(t, "[::1]:443", HostPort("https://[::1]/"))
	assert.Equal(t, "", HostPort("not a url"))
}

func TestRunbookSteps(t *testing.T) {
	b := &Runbook{Files: &Files{Trust: "/t.jks", TrustKind: truststore.JKS, List: "/l", ListFormat: SHA256List}, Reload: []string{"reload-it"}}
	swap := strings.Join(b.Instructions(renewal.Step{ID: renewal.StepReceiverSwap}), "\n")
	assert.Contains(t, swap, "keytool -importcert -noprompt -alias certroll-new-root -file new-root.pem -keystore /t.jks -storetype JKS")
	assert.Contains(t, swap, "-fingerprint -sha256")
	assert.Less(t, strings.Index(swap, "-in old-client.pem"), strings.Index(swap, "-in new-client.pem"), "the old pin goes before the new one comes")
	assert.True(t, strings.HasSuffix(swap, "reload-it"), "no check configured, no s_client without Connect")
	assert.Nil(t, b.Instructions(renewal.Step{ID: renewal.StepRestartNodes}))
	assert.Nil(t, b.Instructions(renewal.Step{ID: renewal.StepSwapEntry, Gate: &renewal.Gate{Kind: renewal.GateReceiverAcceptsBoth}}), "no URL, no curl line")
}

// TestRunbookFailingAwkKeepsTrustFile runs the printed removal of the old
// root with an awk that fails (as one does on a full disk), in a shell
// without -e (as a person pastes the lines): the live trust file must not
// be truncated.
func TestRunbookFailingAwkKeepsTrustFile(t *testing.T) {
	dir := t.TempDir()
	trust := filepath.Join(dir, "ca.pem")
	orig := []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	require.NoError(t, os.WriteFile(trust, orig, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, OldRootFile), orig, 0o644))
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.Mkdir(bin, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bin, "awk"), []byte("#!/bin/sh\necho 'awk: write error' >&2\nexit 2\n"), 0o755))
	b := &Runbook{Files: &Files{Trust: trust, TrustKind: truststore.PEMBundle}}
	lines := b.trustRemove()
	cmd := exec.Command("sh", "-c", strings.Join(lines, "\n"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	out, _ := cmd.CombinedOutput()
	got, err := os.ReadFile(trust)
	require.NoError(t, err)
	assert.Equal(t, string(orig), string(got), "the trust file is untouched after a failing awk (shell said %s)", out)
}

func TestRunbookRefusesControlCharacters(t *testing.T) {
	b := &Runbook{Files: &Files{Trust: "/srv/ca\n.pem", TrustKind: truststore.PEMBundle, List: "/srv/pins\x1b.map", ListFormat: NginxMap},
		Reload: []string{"nginx -s reload"}}
	lines := b.Instructions(renewal.Step{ID: renewal.StepReceiverSwap})
	var edits int
	for _, l := range lines {
		assert.False(t, hasControl(l), "no control character is printed: %q", l)
		if strings.Contains(l, "by hand") {
			assert.True(t, strings.HasPrefix(l, "#"), "a comment, not a command: %q", l)
			edits++
		}
	}
	assert.Equal(t, 3, edits, "the trust file's edit and the list's two (in %q)", lines)
	assert.Contains(t, lines, "nginx -s reload", "a line without the character stays runnable")
}
