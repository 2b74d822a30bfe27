package trustfiles

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/truststore"
	"github.com/stretchr/testify/assert"
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
