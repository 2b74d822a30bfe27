package keystore

// Placeholder until the JKS codec lands.

import (
	"crypto"
	"errors"
)

type jksCodec struct{}

func newJKSCodec() codec { return jksCodec{} }

func parseJKS(data, password []byte, o options) (*Store, error) {
	return nil, errors.New("keystore: JKS not implemented yet")
}
func (jksCodec) encode(s *Store, password []byte) ([]byte, error) {
	return nil, errors.New("keystore: JKS not implemented yet")
}
func (jksCodec) unseal(r *record, password []byte) (crypto.Signer, error) {
	return nil, errors.New("keystore: JKS not implemented yet")
}
