package pkcs12

import (
	"crypto/cipher"
	"fmt"
	"slices"
	"sync"
)

// Decrypting in place: [DecodeInPlace] writes the plaintext of an
// encrypted SafeContents over its ciphertext, in the buffer it was given,
// rather than into a new one, so that a reader of a large file holds the
// file once and not the file and its certificates again. The MAC covers
// the ciphertext and is computed on another goroutine at the same time:
// it publishes how far it has hashed the AuthenticatedSafe for the last
// time (a progress), and a stretch of ciphertext is overwritten only
// once the MAC is past it; the decrypter in turn publishes how far it
// has decrypted, and the bags are read behind it (streamBags). What re-encrypting the plaintext needs (the
// block cipher and the IV) is kept in a [Sealed], so that the file's
// bytes can be rebuilt: CBC with the same key, IV and plaintext gives the
// same ciphertext.

// inPlaceChunk is the stretch the MAC hashes before it says so, and the
// decrypter decrypts at a time: small enough that the decrypter follows
// the MAC closely, large enough that the hand-over costs nothing
// (a file of 9 MB is 140 of them).
const inPlaceChunk = 64 << 10

// progress is how far a goroutine has gone through a buffer: the MAC
// through the AuthenticatedSafe it hashes for the last time, or the
// decrypter through the ciphertext it decrypts. A nil *progress is work
// that is not done concurrently: waiting on it returns at once.
type progress struct {
	mu   sync.Mutex
	cond sync.Cond
	done int  // the work is done with buf[:done]
	over bool // the work is done with the buffer
}

func newProgress() *progress {
	p := &progress{}
	p.cond.L = &p.mu
	return p
}

// advance says that the work is done with buf[:n].
func (p *progress) advance(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.done = max(p.done, n)
	p.mu.Unlock()
	p.cond.Broadcast()
}

// finish says that the work is done with the buffer, whether it
// succeeded, failed, or failed before starting.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.over = true
	p.mu.Unlock()
	p.cond.Broadcast()
}

// wait returns once the work is done with buf[:n] or with the buffer,
// and how much of it the work is done with then (at least n).
func (p *progress) wait(n int) int {
	if p == nil {
		return n
	}
	p.mu.Lock()
	for !p.over && p.done < n {
		p.cond.Wait()
	}
	done := p.done
	if p.over {
		done = max(done, n)
	}
	p.mu.Unlock()
	return done
}

// Sealed is what rebuilding the ciphertext of the encrypted SafeContents
// that [DecodeInPlace] decrypted in place needs: for each, where it is in
// the buffer, its block cipher (holding the derived key) and its IV. It
// holds key material: it is never printed (its String method says only
// how many SafeContents it covers), and it lives as long as the store
// that keeps it, which holds the password too.
type Sealed struct {
	parts []sealedPart
}

type sealedPart struct {
	off, n int // the ciphertext's place in the buffer, padding included
	b      cipher.Block
	iv     []byte
}

// String describes s without its keys or IVs (a PBE IV comes from the
// password). Its receiver is a value, so that printing a Sealed by value
// prints this too; a nil *Sealed prints as none.
func (s Sealed) String() string {
	return fmt.Sprintf("pkcs12.Sealed(%d SafeContents)", len(s.parts))
}

// GoString is String, so that %#v prints no key either.
func (s Sealed) GoString() string { return s.String() }

// Reseal encrypts again, in dst, the SafeContents that DecodeInPlace
// decrypted in the buffer it was given: dst is that buffer or a copy of
// it, and becomes the file as it was read. It panics if dst is shorter
// than the buffer (a programmer's error).
func (s *Sealed) Reseal(dst []byte) {
	if s == nil {
		return
	}
	for _, p := range s.parts {
		region := dst[p.off : p.off+p.n]
		cipher.NewCBCEncrypter(p.b, p.iv).CryptBlocks(region, region)
	}
}

// add records a SafeContents decrypted in place.
func (s *Sealed) add(p *sealedPart) {
	if p != nil {
		s.parts = append(s.parts, *p)
	}
}

// decryptInPlace is decrypt writing the plaintext over ct, which lies at
// off in the caller's buffer: before ct[:n] is overwritten, ready(n) is
// called and returns once nothing reads ct[:n] any more (the MAC), and
// once it is, done (nil for none) is told. It returns the plaintext (a
// prefix of ct) and what re-encrypting it needs. A password form that
// fails is undone (encrypting the plaintext with the same key and IV) so
// that the next is tried on the ciphertext, except the last: then the
// part is returned with the error, for the caller to reseal once nothing
// reads ct any more (done's reader may be reading it).
func (a *Alg) decryptInPlace(password, ct []byte, off int, check func([]byte) bool, w *Work, ready func(n int), done *progress) ([]byte, *sealedPart, error) {
	bs := a.Cipher.blockSize()
	if len(ct) == 0 || len(ct)%bs != 0 {
		return nil, nil, fmt.Errorf("%w: ciphertext of %d bytes is not a positive multiple of the %d-byte block", ErrDecrypt, len(ct), bs)
	}
	forms := [][]byte{password}
	if !a.Cipher.IsPBES2() {
		var err error
		if forms, err = passwordForms(password); err != nil {
			return nil, nil, err
		}
	}
	for f, pw := range forms {
		key, iv, err := a.deriveKeyIV(pw, w)
		if err != nil {
			return nil, nil, err
		}
		b, err := a.Cipher.block(key)
		if err != nil {
			return nil, nil, err
		}
		// CryptBlocks keeps the chaining value across calls, and
		// decrypts with dst == src.
		dec := cipher.NewCBCDecrypter(b, iv)
		for i := 0; i < len(ct); {
			end := min(i+inPlaceChunk, len(ct))
			ready(end)
			dec.CryptBlocks(ct[i:end], ct[i:end])
			done.advance(end)
			i = end
		}
		part := &sealedPart{off: off, n: len(ct), b: b, iv: slices.Clone(iv)}
		if n, ok := unpad(ct, bs); ok {
			if check == nil || check(ct[:n]) {
				return ct[:n], part, nil
			}
		}
		if f == len(forms)-1 {
			return nil, part, ErrDecrypt
		}
		cipher.NewCBCEncrypter(b, iv).CryptBlocks(ct, ct)
	}
	return nil, nil, ErrDecrypt
}
