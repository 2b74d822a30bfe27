package main

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"strings"
)

// keytoolName formats a DER-encoded distinguished name as keytool prints
// it after "Owner:" and "Issuer:" (Java's X500Name.toString): the most
// specific name first, the reverse of the encoded order ("OU=PKI,
// O=Example, CN=Root" for a name encoded CN, O, OU), ", " between names
// and " + " inside a multi-valued one, Java's attribute names, values
// quoted as RFC 1779 says, and "#" and hexadecimal for a value that is
// not a string. Go's pkix.Name.String puts the attributes in its own
// order and joins them with ",", which keytool users would not recognise.
// It returns fallback for bytes that are not a name.
//
// The keystore package formats its listings the same way but does not
// export it; this is a copy for the certificates of a CA's reply.
func keytoolName(der []byte, fallback string) string {
	var rdns pkix.RDNSequence
	if rest, err := asn1.Unmarshal(der, &rdns); err != nil || len(rest) > 0 {
		return fallback
	}
	parts := make([]string, 0, len(rdns))
	for i := len(rdns) - 1; i >= 0; i-- {
		avas := make([]string, len(rdns[i]))
		for j, ava := range rdns[i] {
			avas[j] = keytoolAVA(ava)
		}
		parts = append(parts, strings.Join(avas, " + "))
	}
	return strings.Join(parts, ", ")
}

// keytoolKeywords are the attribute names Java's X500Name prints
// (sun.security.x509.AVA's keywords), by OID.
var keytoolKeywords = map[string]string{
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

// keytoolAVA formats one attribute as Java's AVA.toString does.
func keytoolAVA(ava pkix.AttributeTypeAndValue) string {
	oid := ava.Type.String()
	key, ok := keytoolKeywords[oid]
	if !ok {
		key = "OID." + oid
	}
	v, isString := ava.Value.(string)
	if !isString {
		der, err := asn1.Marshal(ava.Value)
		if err != nil {
			return key + "=#"
		}
		return key + "=#" + hex.EncodeToString(der)
	}
	return key + "=" + rfc1779Value(v)
}

// rfc1779Value quotes a string value as Java's AVA does: in double quotes
// when it holds one of ,+=\n<>#;\" or leading, trailing or doubled white
// space, with " and \ escaped by a backslash.
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
