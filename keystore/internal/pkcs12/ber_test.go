package pkcs12

import (
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

// TestToDERErrors: the normaliser's errors (tested with its vectors in
// package der) become *FormatErrors that name the field and give file
// offsets, or -1 for data that is no piece of the file.
func TestToDERErrors(t *testing.T) {
	tests := []struct {
		name, in, detail string
		offset           int64 // in the input
	}{
		{"empty", "", "expected an ASN.1 element", 0},
		{"length beyond the input", "30 05 02 01", "the length exceeds the 2 bytes left", 0},
		{"indefinite primitive", "04 80 00 00", "found the indefinite form", 0},
		{"missing end-of-contents", "30 80 02 01 03", "end-of-contents", 0},
		{"foreign segment", "24 80 02 01 00 00 00", "segment of the constructed OCTET STRING, found an INTEGER", 2},
		{"deep nesting", strings.Repeat("30 80 ", 100) + strings.Repeat("00 00 ", 100), "nesting deeper than 64", 130},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, base := range []int64{100, -1} {
				_, _, err := toDER(unhex(t, tt.in), base, "field")
				require.Error(t, err)
				var fe *FormatError
				require.True(t, errors.As(err, &fe), "%T %v", err, err)
				assert.Contains(t, fe.Detail, tt.detail)
				assert.Equal(t, "field", fe.Field)
				if base < 0 {
					assert.Equal(t, int64(-1), fe.Offset, "no file offset")
				} else {
					assert.Equal(t, base+tt.offset, fe.Offset, "offsets are file offsets")
				}
			}
		})
	}
}
