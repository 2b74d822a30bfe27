package truststore

import (
	"crypto/x509/pkix"
	"strings"
	"unicode/utf8"
)

// dnString returns n.String(), the distinguished name as crypto/x509
// prints it, without its cost for the names certificates almost always
// have. pkix.Name.String builds an RDNSequence, prints every attribute
// type's OID to look its short name up, formats each value with fmt and
// concatenates with +=; for a root's subject that is about a third of a
// merge. When n holds only the attributes pkix.Name parses into its own
// fields (C, ST, L, STREET, POSTALCODE, O, OU, CN, SERIALNUMBER) and no
// ExtraNames, the same string is written directly: in the reverse of
// ToRDNSequence's order (SERIALNUMBER, CN, OU, O, POSTALCODE, STREET, L,
// ST, C), the values of one attribute joined by "+", escaped as
// RDNSequence.String escapes them. Any other name goes to n.String itself;
// TestDNStringMatchesPkix and FuzzDNString hold the two equal.
func dnString(n pkix.Name) string {
	if n.ExtraNames != nil {
		return n.String()
	}
	for _, atv := range n.Names {
		t := atv.Type
		if len(t) != 4 || t[0] != 2 || t[1] != 5 || t[2] != 4 {
			return n.String()
		}
		switch t[3] {
		case 3, 5, 6, 7, 8, 9, 10, 11, 17:
		default:
			return n.String()
		}
	}
	var b strings.Builder
	// One allocation for the usual name: its values, plus room for the
	// types, separators and a few escapes.
	size := len(n.CommonName) + len(n.SerialNumber) + 32
	for _, vs := range [][]string{n.OrganizationalUnit, n.Organization, n.PostalCode, n.StreetAddress, n.Locality, n.Province, n.Country} {
		for _, v := range vs {
			size += len(v) + 12
		}
	}
	b.Grow(size)
	first := true
	rdn := func(typ string, values []string) {
		if len(values) == 0 {
			return
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		for j, v := range values {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(typ)
			b.WriteByte('=')
			writeEscaped(&b, v)
		}
	}
	if n.SerialNumber != "" {
		rdn("SERIALNUMBER", []string{n.SerialNumber})
	}
	if n.CommonName != "" {
		rdn("CN", []string{n.CommonName})
	}
	rdn("OU", n.OrganizationalUnit)
	rdn("O", n.Organization)
	rdn("POSTALCODE", n.PostalCode)
	rdn("STREET", n.StreetAddress)
	rdn("L", n.Locality)
	rdn("ST", n.Province)
	rdn("C", n.Country)
	return b.String()
}

// writeEscaped writes v as RDNSequence.String does: a backslash before
// , + " \ < > ;, before a space that begins or ends the value, and before
// a # that begins it. It ranges over runes as that code does, so invalid
// UTF-8 becomes U+FFFD in both.
func writeEscaped(b *strings.Builder, v string) {
	if !needsEscape(v) {
		b.WriteString(v)
		return
	}
	for k, c := range v {
		escape := false
		switch c {
		case ',', '+', '"', '\\', '<', '>', ';':
			escape = true
		case ' ':
			escape = k == 0 || k == len(v)-1
		case '#':
			escape = k == 0
		}
		if escape {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
}

// needsEscape reports whether writeEscaped must change v: v is not valid
// UTF-8, or holds a character it escapes where it escapes it.
func needsEscape(v string) bool {
	ascii := true
	for k := 0; k < len(v); k++ {
		switch c := v[k]; c {
		case ',', '+', '"', '\\', '<', '>', ';':
			return true
		case ' ':
			if k == 0 || k == len(v)-1 {
				return true
			}
		case '#':
			if k == 0 {
				return true
			}
		default:
			if c >= utf8.RuneSelf {
				ascii = false
			}
		}
	}
	return !ascii && !utf8.ValidString(v)
}
