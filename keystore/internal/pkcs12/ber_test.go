package pkcs12

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

// TestToDER rewrites BER constructs as DER. The expected encodings follow
// X.690 section 10 (DER): definite, minimal lengths and primitive strings.
func TestToDER(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"DER is returned as it is", "30 03 02 01 03", "30 03 02 01 03"},
		{"indefinite SEQUENCE", "30 80 02 01 03 00 00", "30 03 02 01 03"},
		{"nested indefinite", "30 80 30 80 04 01 AA 00 00 02 01 01 00 00", "30 08 30 03 04 01 AA 02 01 01"},
		{"constructed OCTET STRING", "24 80 04 02 AA BB 04 01 CC 00 00", "04 03 AA BB CC"},
		{"constructed OCTET STRING, definite", "24 07 04 02 AA BB 04 01 CC", "04 03 AA BB CC"},
		{"nested constructed OCTET STRING", "24 80 24 80 04 01 AA 00 00 04 01 BB 00 00", "04 02 AA BB"},
		{"constructed BMPString", "3E 80 1E 02 00 41 1E 02 00 42 00 00", "1E 04 00 41 00 42"},
		{"constructed BIT STRING", "23 80 03 02 00 AA 03 02 04 B0 00 00", "03 03 04 AA B0"},
		{"empty constructed OCTET STRING", "24 80 00 00", "04 00"},
		{"long-form length for a short element", "04 81 01 AA", "04 01 AA"},
		{"length with a leading zero", "04 82 00 01 AA", "04 01 AA"},
		{"context tag kept constructed", "A0 80 04 01 AA 00 00", "A0 03 04 01 AA"},
		{"high tag number", "BF 81 00 80 05 00 00 00", "BF 81 00 02 05 00"},
		{"element then trailing bytes", "30 80 05 00 00 00 FF FF", "30 02 05 00"},
		{"length growing past 127", "30 80 04 7E " + strings.Repeat("00 ", 126) + "00 00", "30 81 80 04 7E " + strings.Repeat("00 ", 126)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := unhex(t, tt.in)
			der, n, err := toDER(in, 0, "test")
			require.NoError(t, err)
			assert.Equal(t, strings.ToUpper(strings.ReplaceAll(tt.want, " ", "")), strings.ToUpper(hex.EncodeToString(der)))
			again, m, err := toDER(der, 0, "test")
			require.NoError(t, err)
			assert.Equal(t, der, again, "normalising DER changes nothing")
			assert.Equal(t, len(der), m)
			if tt.name == "DER is returned as it is" {
				assert.Same(t, &in[0], &der[0], "DER input is not copied")
			}
			if tt.name != "element then trailing bytes" {
				assert.Equal(t, len(in), n)
			} else {
				assert.Equal(t, 6, n)
			}
		})
	}
}

func TestToDERErrors(t *testing.T) {
	tests := []struct {
		name, in, detail string
	}{
		{"empty", "", "want an element"},
		{"truncated length", "30", "truncated length"},
		{"length beyond the input", "30 05 02 01", "exceeds the 2 bytes left"},
		{"huge length", "30 84 7F FF FF FF 00", "exceeds"},
		{"length of 5 octets", "30 85 01 00 00 00 00", "length of 5 octets"},
		{"indefinite primitive", "04 80 00 00", "indefinite length on a primitive"},
		{"missing end-of-contents", "30 80 02 01 03", "without end-of-contents"},
		{"child overruns its parent", "30 02 04 05 01 02 03 04 05", "exceeds"},
		{"foreign segment", "24 80 02 01 00 00 00", "segment of a constructed OCTET STRING is a INTEGER"},
		{"empty BIT STRING segment", "23 80 03 00 00 00", "without its unused-bits octet"},
		{"reserved length", "04 FF", "reserved length"},
		{"deep nesting", strings.Repeat("30 80 ", 100) + strings.Repeat("00 00 ", 100), "nesting deeper than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := toDER(unhex(t, tt.in), 100, "field")
			require.Error(t, err)
			var fe *FormatError
			require.True(t, errors.As(err, &fe), "%T %v", err, err)
			assert.Contains(t, fe.Detail, tt.detail)
			assert.Equal(t, "field", fe.Field)
			assert.GreaterOrEqual(t, fe.Offset, int64(100), "offsets are file offsets")
		})
	}
}

// FuzzToDER: the normaliser never panics, its output is DER (normalising
// it again returns it unchanged), and it is never longer than the input
// plus a few header octets per element.
func FuzzToDER(f *testing.F) {
	for _, s := range []string{"3003020103", "30800201030000", "2480040104000000", "3E801E0200411E02004200 00", "BF8100800500 0000"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		der, n, err := toDER(in, 0, "fuzz")
		if err != nil {
			return
		}
		require.LessOrEqual(t, n, len(in))
		again, m, err := toDER(der, 0, "fuzz")
		require.NoError(t, err)
		require.Equal(t, len(der), m)
		require.True(t, bytes.Equal(der, again))
		require.LessOrEqual(t, len(der), 2*n+8)
	})
}
