package main

import "github.com/certroll/certroll/internal/keytoolname"

// keytoolName formats a DER-encoded distinguished name as keytool prints
// it after "Owner:" and "Issuer:" (the most specific name first, ", "
// between names); Go's pkix.Name.String puts the attributes in its own
// order and joins them with ",", which keytool users would not recognise.
// It returns fallback for bytes that are not a name.
func keytoolName(der []byte, fallback string) string {
	if s := keytoolname.Format(der); s != "" {
		return s
	}
	return fallback
}
