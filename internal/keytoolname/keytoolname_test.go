package keytoolname

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRFC1779Value(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "Tenant Client", "Tenant Client"},
		{"comma", "Example, Inc.", `"Example, Inc."`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"leading space", " x", `" x"`},
		{"trailing space", "x ", `"x "`},
		{"double space", "a  b", `"a  b"`},
		{"unicode", "Müller", "Müller"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, rfc1779Value(tt.in))
		})
	}
}

// TestFormat: the most specific name first, Java's keywords, " + "
// inside a multi-valued name, OID. and # for what Java has no word for.
func TestFormat(t *testing.T) {
	name := pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 6}, Value: "DE"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: "Example, Inc."}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: "Ops"}, {Type: asn1.ObjectIdentifier{2, 5, 4, 12}, Value: "Lead"}},
		{{Type: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: 7}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "Tenant Client"}},
	}
	der, err := asn1.Marshal(name)
	assert.NoError(t, err)
	assert.Equal(t, `CN=Tenant Client, OID.1.2.3.4=#020107, OU=Ops + T=Lead, O="Example, Inc.", C=DE`, Format(der))
	assert.Equal(t, "", Format([]byte{0x30, 0x03}), "not a name")
}
