package keystore

// Placeholder until the PKCS#12 codec lands.

import (
	"crypto"
	"errors"
)

// Profile is a PKCS#12 encoder profile.
type Profile struct{ name string }

type pkcs12Codec struct{}

func newPKCS12Codec(o options) codec { return pkcs12Codec{} }

func parsePKCS12(data, password []byte, o options) (*Store, error) {
	return nil, errors.New("keystore: PKCS#12 not implemented yet")
}
func (pkcs12Codec) encode(s *Store, password []byte) ([]byte, error) {
	return nil, errors.New("keystore: PKCS#12 not implemented yet")
}
func (pkcs12Codec) unseal(r *record, password []byte) (crypto.Signer, error) {
	return nil, errors.New("keystore: PKCS#12 not implemented yet")
}
