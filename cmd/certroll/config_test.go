package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// problems parses a configuration and returns its problems.
func configProblems(t *testing.T, text string) []string {
	t.Helper()
	_, err := parseConfig("renewal.yaml", []byte(text))
	if err == nil {
		return nil
	}
	var ce *configError
	require.True(t, errors.As(err, &ce), "%v", err)
	var xe *exitError
	require.True(t, errors.As(err, &xe))
	assert.Equal(t, exitUsage, xe.code)
	return ce.problems
}

const validConfig = `tenant:
  keystore: tenant.p12
  alias: client
  password: {env: TENANT_PW}
ca:
  handoff: {dir: handover}
receiver:
  embedded: {truststore: r.jks, accepted: a.pem}
runtime:
  embedded: {nodes: 2}
`

func TestConfigProblems(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{name: "valid", text: validConfig},
		{
			name: "unknown key with its line",
			text: validConfig + "notifer: {print: true}\n",
			want: []string{`line 11: unknown key "notifer" in the top level (known keys: ca, drain, hand_over_dir, in_use, new_root, notifier, old_root, receiver, runtime, sequence, tenant, waits, window)`},
		},
		{
			name: "unknown key in a section",
			text: "tenant:\n  keystore: t.p12\n  alias: a\n  password: {env: X}\n  pasword: x\n" + validConfig[len("tenant:\n  keystore: tenant.p12\n  alias: client\n  password: {env: TENANT_PW}\n"):],
			want: []string{`line 5: unknown key "pasword" in tenant (known keys: alias, format, key_type, keystore, password)`},
		},
		{
			name: "every problem at once, in line order",
			text: `tenant:
  alias: client
  password: {env: A, file: b}
  key_type: DSA-1024
ca:
  handoff: {dir: h}
  command: {argv: [sign]}
receiver:
  embedded: {truststore: r.jks, accepted: a.pem, truststore_kind: PEMX}
runtime:
  embedded: {nodes: two}
sequence: sometimes
drain: 5 minutes
waits: {nope: 1s}
`,
			want: []string{
				"line 1: tenant.keystore is missing: the path of the tenant's client keystore (JKS or PKCS#12)",
				"line 3: tenant.password: give exactly one of env, file or prompt (never the password itself)",
				`line 4: tenant.key_type "DSA-1024": give RSA-2048, RSA-3072, RSA-4096, EC-P256, EC-P384 or Ed25519`,
				"line 5: ca: give only one of handoff, command or embedded",
				`line 9: receiver.embedded.truststore_kind "PEMX": give PEM, JKS or PKCS12`,
				`line 11: "two" where a whole number is expected`,
				`line 12: sequence "sometimes": give overlap, downtime or choose`,
				`line 13: "5 minutes" is not a duration such as 30s, 10m or 1h30m`,
				`line 14: waits: "nope" is not a step (steps: generate-key, hand-over-certificate, receiver-accept-both, confirm-accept-both, swap-entry, notify-restart, restart-nodes, notify-new-in-use, remove-old, agree-window, notify-stop, stop-flow, confirm-stopped, receiver-swap, confirm-swapped)`,
			},
		},
		{
			name: "a missing section",
			text: "tenant: {keystore: t.p12, alias: a, password: {prompt: true}}\nca: {handoff: {dir: h}}\nruntime: {embedded: {}}\n",
			want: []string{"line 1: receiver: give one of nginx, haproxy, command or embedded"},
		},
		{
			name: "downtime needs a window",
			text: validConfig + "sequence: downtime\nwindow: {start: saturday}\n",
			want: []string{
				`line 12: window.start "saturday" is not a time such as 2026-06-06T22:00:00Z`,
			},
		},
		{
			name: "not YAML",
			text: "tenant: [\n",
			want: []string{"line 1: did not find expected node content"},
		},
		{
			name: "empty",
			text: "",
			want: []string{"the file is empty"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, configProblems(t, tt.text))
		})
	}
}

// A password written into the file is refused and never repeated, in
// whatever form it is written.
func TestConfigPasswordNeverInFile(t *testing.T) {
	for _, text := range []string{
		"password: hunter2-secret\n",
		"password: [hunter2-secret]\n",
		"password: {value: hunter2-secret}\n",
		"password: {env: X, password: hunter2-secret}\n",
	} {
		t.Run(text, func(t *testing.T) {
			cfg := "tenant:\n  keystore: t.p12\n  alias: a\n  " + text + validConfig[len("tenant:\n  keystore: tenant.p12\n  alias: client\n  password: {env: TENANT_PW}\n"):]
			_, err := parseConfig("renewal.yaml", []byte(cfg))
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "hunter2")
			assert.Contains(t, err.Error(), "line 4:")
		})
	}
}

// The template certroll config example prints is the embedded file, and a
// valid configuration.
func TestConfigExample(t *testing.T) {
	code, out, _ := certroll("config", "example")
	require.Equal(t, exitOK, code)
	assert.Equal(t, string(exampleConfig), out)
	c, err := parseConfig("example.yaml", []byte(out))
	require.NoError(t, err)
	assert.Equal(t, "client", c.Tenant.Alias)
	assert.Equal(t, &passwordConfig{Env: "TENANT_PW"}, c.Tenant.Password)
	assert.NotNil(t, c.Receiver.Embedded)

	path := filepath.Join(t.TempDir(), "renewal.yaml")
	require.NoError(t, os.WriteFile(path, []byte(out), 0o644))
	code, out, _ = certroll("config", "check", path)
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "no problems")

	require.NoError(t, os.WriteFile(path, []byte(validConfig+"colour: blue\n"), 0o644))
	code, _, stderr := certroll("config", "check", path)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, `line 11: unknown key "colour"`)
}
