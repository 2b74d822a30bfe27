package pkcs12

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
)

// Floor is the cryptographic work a file's format requires of a reader
// or a writer, and nothing else: the MAC key's derivation and the HMAC
// over the AuthenticatedSafe, and for each encrypted SafeContents its
// key derivation and its block cipher over the ciphertext. Benchmarks
// time it on the file they read or wrote, in the same run, to report
// how far the codec is from it; the codec itself never uses it.
type Floor struct {
	md       *macData
	authSafe []byte
	pieces   []contentInfo
}

// NewFloor reads the structure of a DER file (no key is derived).
func NewFloor(data []byte) (*Floor, error) {
	authSafe, _, md, err := parsePFX(data, 0)
	if err != nil {
		return nil, err
	}
	pieces, err := parseAuthSafe(authSafe, 0)
	if err != nil {
		return nil, err
	}
	return &Floor{md: md, authSafe: authSafe, pieces: pieces}, nil
}

// Read does what reading the file requires: the MAC (when the file has
// one) and the decryption of every encrypted SafeContents, with the
// password's first form. It fails if the MAC does not match.
func (f *Floor) Read(password []byte) error { return f.run(password, false) }

// Write does what writing a file of the same shape requires: the MAC
// and the encryption of as many bytes as each encrypted SafeContents
// holds, with the parameters read.
func (f *Floor) Write(password []byte) error { return f.run(password, true) }

func (f *Floor) run(password []byte, write bool) error {
	if f.md != nil {
		pw := password
		if f.md.Kind == HMAC {
			var err error
			if pw, err = bmpPassword(password); err != nil {
				return err
			}
		}
		key, err := f.md.key(pw, nil)
		if err != nil {
			return err
		}
		if sum := f.md.sum(key, f.authSafe); !write && string(sum) != string(f.md.digest) {
			return ErrMAC
		}
	}
	for _, pc := range f.pieces {
		if pc.alg == nil {
			continue
		}
		pw := password
		if !pc.alg.Cipher.IsPBES2() {
			var err error
			if pw, err = bmpPassword(password); err != nil {
				return err
			}
		}
		key, iv, err := pc.alg.deriveKeyIV(pw, nil)
		if err != nil {
			return err
		}
		b, err := pc.alg.Cipher.block(key)
		if err != nil {
			return err
		}
		out := make([]byte, len(pc.data))
		if write {
			cipher.NewCBCEncrypter(b, iv).CryptBlocks(out, pc.data)
		} else {
			cipher.NewCBCDecrypter(b, iv).CryptBlocks(out, pc.data)
		}
	}
	return nil
}

// None reports whether the file has neither a MAC nor encryption.
func (f *Floor) None() bool { return f.md == nil && f.EncryptedBytes() == 0 }

// EncryptedBytes returns the size of the file's encrypted SafeContents.
func (f *Floor) EncryptedBytes() int {
	n := 0
	for _, pc := range f.pieces {
		if pc.alg != nil {
			n += len(pc.data)
		}
	}
	return n
}

// SealKey does what sealing one small key with p requires: its key
// derivation and its encryption (a P-256 PKCS #8 key is 138 bytes).
func SealKey(p EncParams, password []byte) error {
	a := &Alg{EncParams: p, Salt: make([]byte, p.SaltLen), IV: make([]byte, aes.BlockSize)}
	pw := password
	if !p.Cipher.IsPBES2() {
		var err error
		if pw, err = bmpPassword(password); err != nil {
			return err
		}
	}
	key, iv, err := a.deriveKeyIV(pw, nil)
	if err != nil {
		return err
	}
	b, err := p.Cipher.block(key)
	if err != nil {
		return fmt.Errorf("pkcs12: %w", err)
	}
	buf := make([]byte, 144)
	cipher.NewCBCEncrypter(b, iv[:b.BlockSize()]).CryptBlocks(buf, buf)
	return nil
}
