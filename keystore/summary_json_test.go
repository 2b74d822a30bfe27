package keystore

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSummaryJSON pins the JSON of a listing: "sha256" in keytool's form,
// as the text listing prints it and as this JSON always gave it, and ""
// for an entry without a certificate.
func TestSummaryJSON(t *testing.T) {
	data, err := os.ReadFile("testdata/pkcs12/keytool17/keypair-ec-changeit.p12")
	require.NoError(t, err)
	s, err := Parse(data, []byte("changeit"), nil)
	require.NoError(t, err)
	sums := s.Summaries()
	require.NotEmpty(t, sums)
	out, err := json.Marshal(sums[0])
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(out, &got))
	assert.Equal(t, sums[0].Fingerprint.String(), got["sha256"])
	assert.Regexp(t, `^([0-9A-F]{2}:){31}[0-9A-F]{2}$`, got["sha256"])
	assert.Equal(t, sums[0].Alias, got["alias"])
	assert.Equal(t, "PrivateKeyEntry", got["type"])
	assert.NotContains(t, got, "Fingerprint")

	out, err = json.Marshal(Summary{Alias: "secret", Kind: SecretKeyEntry})
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(out, &got))
	assert.Equal(t, "", got["sha256"])
}
