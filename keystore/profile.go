package keystore

import (
	"fmt"
	"strconv"
	"strings"

	p12 "github.com/certroll/certroll/keystore/internal/pkcs12"
)

// A Profile is a named, versioned set of PKCS#12 encoder parameters: how
// keys and certificates are encrypted and how the file's integrity is
// protected. A profile's parameters never change once published; new
// parameters get a new name. The zero Profile is not valid; use one of
// the presets, possibly adjusted with [Profile.WithIterations].
//
// A store keeps the profile of the file it was read from ("as read")
// unless the caller picks another with [Store.SetProfile]; a new
// store uses [Modern]. Use [Profile.ReadableBy]
// to check, before writing, that the receiver can open the file.
//
// Whatever the profile, Java's PKCS12KeyStore (JDK 17 and 21 at least)
// derives keys only from printable ASCII passwords: a file protected by
// "pässword" opens with OpenSSL and this package but not with keytool,
// which reports "Password is not ASCII". Use ASCII passwords for stores
// Java reads.
type Profile struct {
	name  string
	keys  p12.EncParams
	certs p12.EncParams // Cipher NoCipher: certificates are not encrypted
	mac   p12.MACParams
}

// saltLen is the salt length of the presets: 20 bytes, as Java writes.
const saltLen = 20

var modernEnc = p12.EncParams{Cipher: p12.PBES2AES256CBC, PRF: p12.SHA256, Iterations: 10000, SaltLen: saltLen}

// The presets.
var (
	// Modern2024 encrypts keys and certificates with PBES2 (PBKDF2 with
	// HMAC-SHA256, AES-256-CBC) and protects the file with an HMAC-SHA256
	// MAC, all with 10,000 iterations: what keytool writes since JDK 17
	// (and 12). Readers: Java 17 and 21 (and 12+, 11.0.12+, 8u301+),
	// OpenSSL 1.1.1 and 3.x, Windows 10 1709+ / Server 2019+, go-pkcs12.
	// Not Java 8 or 11 before those updates, nor Windows 7 / Server 2016.
	Modern2024 = Profile{
		name:  "Modern2024",
		keys:  modernEnc,
		certs: modernEnc,
		mac:   p12.MACParams{Kind: p12.HMAC, Hash: p12.SHA256, Iterations: 10000, SaltLen: saltLen},
	}

	// Modern is the recommended profile; today it is [Modern2024]. It
	// will move to a newer profile when recommendations change; use
	// Modern2024 to keep today's parameters.
	Modern = Modern2024

	// Legacy encrypts keys and certificates with
	// pbeWithSHAAnd3-KeyTripleDES-CBC and protects the file with an
	// HMAC-SHA1 MAC, 2,048 iterations (OpenSSL 1.1.1's default count).
	// Readers: every Java (8 included), OpenSSL 1.0 and later (3.x
	// without -legacy, since it uses no RC2), Windows 7 and later,
	// go-pkcs12. Use it only for receivers that cannot read Modern:
	// 3DES and SHA-1 are weak.
	Legacy = Profile{
		name:  "Legacy",
		keys:  p12.EncParams{Cipher: p12.PBEWithSHAAnd3KeyTripleDESCBC, Iterations: 2048, SaltLen: saltLen},
		certs: p12.EncParams{Cipher: p12.PBEWithSHAAnd3KeyTripleDESCBC, Iterations: 2048, SaltLen: saltLen},
		mac:   p12.MACParams{Kind: p12.HMAC, Hash: p12.SHA1, Iterations: 2048, SaltLen: saltLen},
	}

	// Passwordless writes certificates unencrypted and no MAC, as JDK 18+
	// writes cacerts: a truststore anyone can read without a password.
	// Keys, if the store has any, are still encrypted as in Modern2024
	// with the password given. Readers: Java 8 and later (JDK 18+ without
	// a password; older ones with any password), OpenSSL 1.1.1 and 3.x
	// (which warn that the MAC is absent), go-pkcs12 DecodeTrustStore.
	// Nothing protects the file's integrity: keep it where only trusted
	// people can write.
	Passwordless = Profile{
		name: "Passwordless",
		keys: modernEnc,
	}

	// PBMAC1 is Modern2024 with the MAC of RFC 9579: PBMAC1 with PBKDF2
	// (HMAC-SHA256, 10,000 iterations, 32-byte key) and HMAC-SHA256, the
	// integrity mode FIPS 140-3 accepts. Readers: OpenSSL 3.4 and later,
	// go-pkcs12 0.6+, Bouncy Castle 1.78+. Not Java 17 or 21, nor OpenSSL
	// before 3.4.
	PBMAC1 = Profile{
		name:  "PBMAC1",
		keys:  modernEnc,
		certs: modernEnc,
		mac:   p12.MACParams{Kind: p12.PBMAC1, Hash: p12.SHA256, KDFPRF: p12.SHA256, Iterations: 10000, SaltLen: saltLen, KeyLen: 32},
	}
)

var presets = []Profile{Modern2024, Legacy, Passwordless, PBMAC1}

// presetName returns the name of the preset p is (or was derived from, by
// [Profile.WithIterations]), or "custom" for a profile read from a file
// that matches no preset.
func (p Profile) presetName() string {
	if p.name == "" {
		return "custom"
	}
	return p.name
}

// String returns the name of the preset p is: "Modern2024", "Legacy",
// "Passwordless" or "PBMAC1" (a file written with one reads back as it).
// Any other profile, such as a preset changed by [Profile.WithIterations]
// or a file's that matches no preset, is described by the name it comes
// from ("custom" for a file's) and its parameters: "Modern2024 (keys:
// PBES2 AES-256-CBC, PBKDF2-HMAC-SHA-256, 20000 iterations; certificates:
// …; MAC: …)".
func (p Profile) String() string {
	for _, q := range presets {
		if p.name == q.name && sameParams(p, q) {
			return p.name
		}
	}
	return p.describe()
}

// describe gives the profile's name and parameters.
func (p Profile) describe() string {
	var certs string
	if p.certs.Cipher == p12.NoCipher {
		certs = "not encrypted"
	} else {
		certs = p.certs.String()
	}
	return fmt.Sprintf("%s (keys: %v; certificates: %s; MAC: %v)", p.presetName(), p.keys, certs, p.mac)
}

// WithIterations returns a copy of p that uses n iterations for every key
// derivation (keys, certificates and MAC). n must be between 1 and
// 5,000,000 (the JDK's limit); [Store.Marshal] refuses others.
func (p Profile) WithIterations(n int) Profile {
	p.keys.Iterations = n
	if p.certs.Cipher != p12.NoCipher {
		p.certs.Iterations = n
	}
	if p.mac.Kind != p12.NoMAC {
		p.mac.Iterations = n
	}
	return p
}

// check reports a profile the encoder must not write.
func (p Profile) check() error {
	if p.keys.Cipher == p12.NoCipher {
		return fmt.Errorf("keystore: PKCS#12 profile %s: no key encryption (use a preset)", p.presetName())
	}
	if err := p.keys.Check(); err != nil {
		return fmt.Errorf("keystore: PKCS#12 profile %s, keys: %w", p.presetName(), err)
	}
	if p.certs.Cipher != p12.NoCipher {
		if err := p.certs.Check(); err != nil {
			return fmt.Errorf("keystore: PKCS#12 profile %s, certificates: %w", p.presetName(), err)
		}
	}
	if err := p.mac.Check(); err != nil {
		return fmt.Errorf("keystore: PKCS#12 profile %s, MAC: %w", p.presetName(), err)
	}
	return nil
}

// sameParams reports whether two profiles write the same algorithms and
// iteration counts (salt lengths aside).
func sameParams(a, b Profile) bool {
	return sameEnc(a.keys, b.keys) && sameEnc(a.certs, b.certs) &&
		a.mac.Kind == b.mac.Kind && a.mac.Hash == b.mac.Hash && a.mac.KDFPRF == b.mac.KDFPRF &&
		a.mac.Iterations == b.mac.Iterations && a.mac.KeyLen == b.mac.KeyLen
}

func sameEnc(a, b p12.EncParams) bool {
	if a.Cipher != b.Cipher {
		return false
	}
	if a.Cipher == p12.NoCipher {
		return true
	}
	return a.Iterations == b.Iterations && (!a.Cipher.IsPBES2() || a.PRF == b.PRF)
}

// Reader is a program that reads PKCS#12 files, for [Profile.ReadableBy].
type Reader int

// Readers whose PKCS#12 support is known. A Java version means every
// update of it; OpenSSL 3.0 means 3.0 to 3.3.
const (
	Java8      Reader = iota + 1 // Java 8 (every update)
	Java11                       // Java 11 (every update)
	Java17                       // Java 17
	Java21                       // Java 21
	OpenSSL111                   // OpenSSL 1.1.1
	OpenSSL30                    // OpenSSL 3.0 to 3.3
	OpenSSL34                    // OpenSSL 3.4 and later
)

// String returns the reader's name, such as "Java 17".
func (r Reader) String() string {
	switch r {
	case Java8:
		return "Java 8"
	case Java11:
		return "Java 11"
	case Java17:
		return "Java 17"
	case Java21:
		return "Java 21"
	case OpenSSL111:
		return "OpenSSL 1.1.1"
	case OpenSSL30:
		return "OpenSSL 3.0"
	case OpenSSL34:
		return "OpenSSL 3.4+"
	}
	return "Reader(" + strconv.Itoa(int(r)) + ")"
}

func (r Reader) java() bool { return r >= Java8 && r <= Java21 }

// ReadableBy reports whether r can open files written with p, and why
// (or why not), so that a caller can warn before writing a file its
// receiver cannot open. The answer comes from each reader's documented
// and tested support: Java 17 and OpenSSL 3.0 are tested against the
// files this package writes; the others follow their release notes.
// It does not look at the password: Java also needs it to be printable
// ASCII (see [Profile]).
func (p Profile) ReadableBy(r Reader) (bool, string) {
	if r < Java8 || r > OpenSSL34 {
		return false, fmt.Sprintf("%v is not a known reader", r)
	}
	var ok []string
	for _, part := range []struct {
		what string
		enc  p12.EncParams
	}{{"keys", p.keys}, {"certificates", p.certs}} {
		if part.enc.Cipher == p12.NoCipher {
			continue
		}
		if yes, why := encReadable(part.enc, r); !yes {
			return false, fmt.Sprintf("%v cannot decrypt %s encrypted with %v: %s", r, part.what, part.enc.Cipher, why)
		} else if why != "" {
			ok = append(ok, why)
		}
	}
	if yes, why := macReadable(p.mac, r); !yes {
		return false, fmt.Sprintf("%v cannot check a %v: %s", r, p.mac, why)
	} else if why != "" {
		ok = append(ok, why)
	}
	if len(ok) == 0 {
		return true, fmt.Sprintf("%v reads every algorithm of %s", r, p.presetName())
	}
	return true, fmt.Sprintf("%v reads %s: %s", r, p.presetName(), strings.Join(ok, "; "))
}

// javaUpdate names the update that brought PBES2 and SHA-2 MACs to an
// older Java (the backport of JDK-8076190 and JDK-8153005).
func javaUpdate(r Reader) string {
	if r == Java8 {
		return "8u301"
	}
	return "11.0.12"
}

func encReadable(e p12.EncParams, r Reader) (bool, string) {
	switch e.Cipher {
	case p12.PBEWithSHAAnd3KeyTripleDESCBC:
		return true, ""
	case p12.PBEWithSHAAnd40BitRC2CBC, p12.PBEWithSHAAnd128BitRC2CBC:
		if r == OpenSSL30 || r == OpenSSL34 {
			return false, "RC2 is in OpenSSL 3's legacy provider, loaded only with -legacy"
		}
		return true, ""
	case p12.PBEWithSHAAnd2KeyTripleDESCBC:
		if r.java() {
			return false, "Java has no two-key triple DES PBE"
		}
		return true, ""
	}
	// PBES2.
	if r.java() {
		if e.Cipher != p12.PBES2AES128CBC && e.Cipher != p12.PBES2AES256CBC {
			return false, "Java's PBES2 reads AES-128 and AES-256 only"
		}
		switch e.PRF {
		case p12.SHA1, p12.SHA224, p12.SHA256, p12.SHA384, p12.SHA512:
		default:
			return false, fmt.Sprintf("Java's PBES2 has no PBKDF2-HMAC-%v", e.PRF)
		}
		if r == Java8 || r == Java11 {
			return false, fmt.Sprintf("PBES2 needs %s or later", javaUpdate(r))
		}
		return true, "PBES2 since JDK 12"
	}
	return true, ""
}

func macReadable(m p12.MACParams, r Reader) (bool, string) {
	switch m.Kind {
	case p12.NoMAC:
		if r.java() {
			return true, "no MAC (JDK 18+ opens it without a password, older Java with any)"
		}
		return true, "no MAC (openssl warns that it is absent)"
	case p12.PBMAC1:
		if r == OpenSSL34 {
			return true, "PBMAC1 since OpenSSL 3.4"
		}
		if r.java() {
			return false, "no Java release reads PBMAC1 (RFC 9579)"
		}
		return false, "PBMAC1 (RFC 9579) needs OpenSSL 3.4 or later"
	}
	if m.Hash == p12.SHA1 {
		return true, ""
	}
	if (r == Java8 || r == Java11) && m.Hash != p12.SHA1 {
		return false, fmt.Sprintf("MACs other than HMAC-SHA1 need %s or later", javaUpdate(r))
	}
	if r.java() {
		return true, fmt.Sprintf("HMAC-%v MACs since JDK 12", m.Hash)
	}
	return true, ""
}

// Profile returns the encoder profile the store will be written with: the
// one chosen with [Store.SetProfile], else the one the file was read
// with, else [Modern]. ok is false for a store that is not
// PKCS#12.
func (s *Store) Profile() (p Profile, ok bool) {
	c, isP12 := s.codec.(*pkcs12Codec)
	if !isP12 {
		return Profile{}, false
	}
	return c.profile, true
}

// SetProfile chooses the encoder profile the store is written with, in
// place of the one the file was read with. Keys read from the file are
// re-encrypted to match it when the store is marshalled, which needs their
// passwords. It fails for a store that is not PKCS#12, or for a profile
// the encoder refuses.
func (s *Store) SetProfile(p Profile) error {
	c, ok := s.codec.(*pkcs12Codec)
	if !ok {
		return fmt.Errorf("keystore: SetProfile: a %v store has no PKCS#12 profile", s.format)
	}
	if err := p.check(); err != nil {
		return err
	}
	c.profile, c.explicit = p, true
	return nil
}
