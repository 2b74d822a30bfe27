// Package keytoolname formats distinguished names as keytool prints them
// after "Owner:" and "Issuer:", for the keystore package's listings and
// the certroll command's output.
package keytoolname

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"strings"
)

// keywords are the attribute names Java's X500Name prints
// (sun.security.x509.AVA's keywords), by OID.
var keywords = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.12":                   "T",
	"2.5.4.9":                    "STREET",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
	"1.2.840.113549.1.9.1":       "EMAILADDRESS",
	"2.5.4.5":                    "SERIALNUMBER",
	"2.5.4.4":                    "SURNAME",
	"2.5.4.42":                   "GIVENNAME",
	"2.5.4.43":                   "INITIALS",
	"2.5.4.44":                   "GENERATION",
	"2.5.4.46":                   "DNQ",
	"1.3.6.1.4.1.42.2.11.2.1":    "IP",
}

// Format formats a DER-encoded distinguished name as keytool prints it
// (Java's X500Name.toString): the most specific name first ("CN=a, OU=b,
// O=c, C=DE", the reverse of the encoded order, as RFC 4514 also has it),
// ", " between names and " + " inside a multi-valued one, Java's attribute
// names, values quoted as RFC 1779 says, and "#" and hexadecimal for a
// value that is not a string. It returns "" for bytes that are not a
// name.
func Format(der []byte) string {
	var rdns pkix.RDNSequence
	if rest, err := asn1.Unmarshal(der, &rdns); err != nil || len(rest) > 0 {
		return ""
	}
	parts := make([]string, 0, len(rdns))
	for i := len(rdns) - 1; i >= 0; i-- {
		avas := make([]string, len(rdns[i]))
		for j, a := range rdns[i] {
			avas[j] = ava(a)
		}
		parts = append(parts, strings.Join(avas, " + "))
	}
	return strings.Join(parts, ", ")
}

// ava formats one attribute as Java's AVA.toString does.
func ava(a pkix.AttributeTypeAndValue) string {
	oid := a.Type.String()
	key, ok := keywords[oid]
	if !ok {
		key = "OID." + oid
	}
	v, isString := a.Value.(string)
	if !isString {
		der, err := asn1.Marshal(a.Value)
		if err != nil {
			return key + "=#"
		}
		return key + "=#" + hex.EncodeToString(der)
	}
	return key + "=" + rfc1779Value(v)
}

// rfc1779Value quotes a string value as Java's AVA does: in double quotes
// when it holds one of ,+=\n<>#;\" or leading, trailing or doubled
// white space, with " and \ escaped by a backslash.
func rfc1779Value(v string) string {
	const special = ",+=\n<>#;\\\""
	var b strings.Builder
	quote, prevWhite := false, false
	for i, c := range v {
		white := c == ' ' || c == '\n'
		if strings.ContainsRune(special, c) || (i == 0 && white) || (white && prevWhite) {
			quote = true
		}
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		prevWhite = white
		b.WriteRune(c)
	}
	if strings.HasSuffix(v, " ") || strings.HasSuffix(v, "\n") {
		quote = true
	}
	if quote {
		return `"` + b.String() + `"`
	}
	return b.String()
}
