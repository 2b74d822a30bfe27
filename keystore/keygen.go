package keystore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// KeyType is the algorithm and size of a key pair made by [GenerateKey].
//
// The zero KeyType is not a key type: GenerateKey refuses it with
// [ErrUnsupportedKey], so a forgotten field in an options struct is an
// error rather than a silent default.
type KeyType int

// The key types GenerateKey makes. They are the ones JKS and PKCS#12 stores,
// keytool (Java 15 and later for Ed25519), OpenSSL 1.1.1+ and public CAs all
// handle.
const (
	// RSA2048 is a 2048-bit RSA key with public exponent 65537.
	RSA2048 KeyType = iota + 1
	// RSA3072 is a 3072-bit RSA key with public exponent 65537.
	RSA3072
	// RSA4096 is a 4096-bit RSA key with public exponent 65537.
	RSA4096
	// ECDSAP256 is an ECDSA key on NIST P-256 (secp256r1, prime256v1).
	ECDSAP256
	// ECDSAP384 is an ECDSA key on NIST P-384 (secp384r1).
	ECDSAP384
	// ECDSAP521 is an ECDSA key on NIST P-521 (secp521r1).
	ECDSAP521
	// Ed25519 is an Ed25519 key (RFC 8032).
	Ed25519
)

// keyTypeNames are the canonical names, which String returns and
// ParseKeyType accepts.
var keyTypeNames = [...]string{
	RSA2048:   "rsa2048",
	RSA3072:   "rsa3072",
	RSA4096:   "rsa4096",
	ECDSAP256: "ec-p256",
	ECDSAP384: "ec-p384",
	ECDSAP521: "ec-p521",
	Ed25519:   "ed25519",
}

// keyTypeAliases maps a name, lower-cased and stripped of "-", "_" and
// spaces, to its KeyType. Besides the canonical names it accepts the names
// OpenSSL, keytool and the SEC/ANSI standards use for the same curves.
var keyTypeAliases = map[string]KeyType{
	"rsa2048": RSA2048, "rsa3072": RSA3072, "rsa4096": RSA4096,
	"ecp256": ECDSAP256, "ecdsap256": ECDSAP256, "p256": ECDSAP256, "secp256r1": ECDSAP256, "prime256v1": ECDSAP256,
	"ecp384": ECDSAP384, "ecdsap384": ECDSAP384, "p384": ECDSAP384, "secp384r1": ECDSAP384,
	"ecp521": ECDSAP521, "ecdsap521": ECDSAP521, "p521": ECDSAP521, "secp521r1": ECDSAP521,
	"ed25519": Ed25519,
}

// keyTypes returns every key type, in declaration order.
func keyTypes() []KeyType {
	return []KeyType{RSA2048, RSA3072, RSA4096, ECDSAP256, ECDSAP384, ECDSAP521, Ed25519}
}

// KeyTypeOf returns the key type [GenerateKey] uses to make a key like
// pub, such as the key of a certificate being renewed: the ECDSA curve or
// Ed25519 of pub, or for RSA the smallest of RSA2048, RSA3072 and RSA4096
// at least as large as pub (an RSA-1024 key gives RSA2048, an RSA-8192
// key RSA4096). For any other key, including a nil one, it returns the
// zero KeyType, which is not a key type.
func KeyTypeOf(pub crypto.PublicKey) KeyType {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return 0
		}
		switch bits := k.N.BitLen(); {
		case bits > 3072:
			return RSA4096
		case bits > 2048:
			return RSA3072
		}
		return RSA2048
	case *ecdsa.PublicKey:
		if k == nil {
			return 0
		}
		switch k.Curve {
		case elliptic.P256():
			return ECDSAP256
		case elliptic.P384():
			return ECDSAP384
		case elliptic.P521():
			return ECDSAP521
		}
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return Ed25519
		}
	}
	return 0
}

// String returns the canonical name of t ("rsa2048", "ec-p256", "ed25519",
// ...), which [ParseKeyType] accepts, or "KeyType(n)" for an unknown value.
func (t KeyType) String() string {
	if t.valid() {
		return keyTypeNames[t]
	}
	return fmt.Sprintf("KeyType(%d)", int(t))
}

func (t KeyType) valid() bool { return t >= RSA2048 && t <= Ed25519 }

// ParseKeyType returns the KeyType named s. Case, "-", "_" and spaces are
// ignored, so "rsa2048", "RSA-2048", "ec-p256", "EC P-256", "ecdsa-p384",
// "secp384r1", "prime256v1" and "Ed25519" are all accepted. An unknown name
// gives an error wrapping [ErrUnsupportedKey].
func ParseKeyType(s string) (KeyType, error) {
	norm := strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', ' ':
			return -1
		}
		return r
	}, strings.ToLower(s))
	if t, ok := keyTypeAliases[norm]; ok {
		return t, nil
	}
	return 0, unknownKeyType(strconv.Quote(s))
}

// unknownKeyType is the error for a key type value or name (got, quoted
// if it is user input) that is not one of the package's key types.
func unknownKeyType(got string) error {
	return &markedError{sentinel: ErrUnsupportedKey,
		msg: fmt.Sprintf("keystore: unknown key type: got %s, want one of %s", got, keyTypeList())}
}

func keyTypeList() string {
	names := make([]string, 0, len(keyTypeNames))
	for _, t := range keyTypes() {
		names = append(names, t.String())
	}
	return strings.Join(names, ", ")
}

// GenerateKey makes a new key pair of type t with the randomness taken
// from random; nil means crypto/rand. The returned signer is an
// *rsa.PrivateKey, *ecdsa.PrivateKey or ed25519.PrivateKey. An unknown t
// gives an error wrapping [ErrUnsupportedKey] that lists the key types.
//
// Ed25519 keys are derived from the first 32 bytes read from random, so a
// fixed reader gives a fixed key. RSA and ECDSA keys are made by crypto/rsa
// and crypto/ecdsa, which since Go 1.26 ignore the reader and always use the
// system's secure source unless GODEBUG=cryptocustomrand=1 is set (the default
// for main modules that declare a go version before 1.26); even then their
// output is not a pure function of the reader's bytes. Tests that need
// reproducible RSA or ECDSA keys should use testing/cryptotest.SetGlobalRandom.
func GenerateKey(t KeyType, random io.Reader) (crypto.Signer, error) {
	if random == nil {
		random = rand.Reader
	}
	var (
		key crypto.Signer
		err error
	)
	switch t {
	case RSA2048:
		key, err = rsa.GenerateKey(random, 2048)
	case RSA3072:
		key, err = rsa.GenerateKey(random, 3072)
	case RSA4096:
		key, err = rsa.GenerateKey(random, 4096)
	case ECDSAP256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), random)
	case ECDSAP384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), random)
	case ECDSAP521:
		key, err = ecdsa.GenerateKey(elliptic.P521(), random)
	case Ed25519:
		// Read the seed ourselves: ed25519.GenerateKey's use of the reader
		// has changed between Go releases, and a seed read here is
		// deterministic on every release.
		seed := make([]byte, ed25519.SeedSize)
		if _, err = io.ReadFull(random, seed); err == nil {
			key = ed25519.NewKeyFromSeed(seed)
		}
	default:
		return nil, unknownKeyType(t.String())
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: generating %v key: %w", t, err)
	}
	return key, nil
}
