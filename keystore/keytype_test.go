package keystore_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/keystore"
)

func TestKeyTypeOf(t *testing.T) {
	for _, kt := range keystore.KeyTypes() {
		t.Run(kt.String(), func(t *testing.T) {
			assert.Equal(t, kt, keystore.KeyTypeOf(tcKey(t, kt).Public()))
		})
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	require.NoError(t, err)
	tests := []struct {
		name string
		pub  crypto.PublicKey
		want keystore.KeyType
	}{
		{"RSA 1024 rounds up", &rsa1024.PublicKey, keystore.RSA2048},
		{"EC P-224", &p224.PublicKey, 0},
		{"nil", nil, 0},
		{"nil RSA", (*rsa.PublicKey)(nil), 0},
		{"empty RSA", &rsa.PublicKey{}, 0},
		{"nil ECDSA", (*ecdsa.PublicKey)(nil), 0},
		{"short Ed25519", ed25519.PublicKey{1, 2, 3}, 0},
		{"private key", tcKey(t, keystore.ECDSAP256), 0},
		{"string", "not a key", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, keystore.KeyTypeOf(tt.pub))
		})
	}
}
