package truststore

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/stretchr/testify/assert"
)

// namesOf fills n.Names as parsing a certificate does: one entry per
// attribute value, the standard ones from n's fields.
func namesOf(n pkix.Name, extra ...pkix.AttributeTypeAndValue) pkix.Name {
	n.Names = nil
	for _, rdn := range n.ToRDNSequence() {
		n.Names = append(n.Names, rdn...)
	}
	n.Names = append(n.Names, extra...)
	return n
}

func TestDNStringMatchesPkix(t *testing.T) {
	email := pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: "ca@example.com"}
	dc := pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, Value: "example"}
	tests := []struct {
		name string
		n    pkix.Name
	}{
		{"empty", pkix.Name{}},
		{"CN only", namesOf(pkix.Name{CommonName: "Root CA"})},
		{"CN and O", namesOf(pkix.Name{CommonName: "Bench Root 7", Organization: []string{"certroll bench"}})},
		{"every parsed attribute", namesOf(pkix.Name{
			Country: []string{"DE", "FR"}, Province: []string{"Bayern"}, Locality: []string{"München"},
			StreetAddress: []string{"Hauptstraße 1"}, PostalCode: []string{"80331"},
			Organization: []string{"Example", "Example Holding"}, OrganizationalUnit: []string{"PKI"},
			CommonName: "Example Root", SerialNumber: "42",
		})},
		{"values to escape", namesOf(pkix.Name{CommonName: ` #lead,+"\<>;trail `, Organization: []string{"#", " ", "a#b c"}})},
		{"empty value in a list", namesOf(pkix.Name{Organization: []string{"", "O"}})},
		{"invalid UTF-8", namesOf(pkix.Name{CommonName: "bad \xff\xfe end"})},
		{"UTF-8 then a character to escape", namesOf(pkix.Name{CommonName: "Zürich, Süd", Organization: []string{"é "}})},
		{"invalid UTF-8 then a character to escape", namesOf(pkix.Name{CommonName: "\xff;"})},
		{"email address attribute", namesOf(pkix.Name{CommonName: "Old Root"}, email)},
		{"domain component", namesOf(pkix.Name{CommonName: "DC Root"}, dc)},
		{"extra names", pkix.Name{CommonName: "X", ExtraNames: []pkix.AttributeTypeAndValue{email}}},
		{"fields without names", pkix.Name{CommonName: "built in code", Country: []string{"US"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.n.String(), dnString(tt.n))
		})
	}
}

func FuzzDNString(f *testing.F) {
	f.Add("Root CA", "Example", "PKI", "DE", " #,+\"\\<>; ", false)
	f.Add("", "", "", "", "", true)
	f.Fuzz(func(t *testing.T, cn, o, ou, c, street string, email bool) {
		var extra []pkix.AttributeTypeAndValue
		if email {
			extra = append(extra, pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: cn})
		}
		n := namesOf(pkix.Name{CommonName: cn, Organization: []string{o, ou}, OrganizationalUnit: []string{ou},
			Country: []string{c}, StreetAddress: []string{street}, SerialNumber: o}, extra...)
		if got, want := dnString(n), n.String(); got != want {
			t.Fatalf("dnString = %q, pkix.Name.String = %q", got, want)
		}
	})
}
