package keystore

import (
	"errors"
	"fmt"

	"github.com/certroll/certroll/chain"
)

// Sentinel errors that callers branch on with [errors.Is]. Every error the
// package returns wraps at most one of them and adds what was expected and
// what was found; none of them ever contains a password.
var (
	// ErrIncorrectPassword reports that a store's integrity check or a key
	// entry's decryption failed. As with the JDK, the two causes cannot be
	// told apart: the message says "tampered with, or password incorrect".
	ErrIncorrectPassword = errors.New("keystore: keystore was tampered with, or password incorrect")

	// ErrMalformed reports input that is truncated, garbage, or violates the
	// format; the wrapping error says where.
	ErrMalformed = errors.New("keystore: malformed keystore")

	// ErrUnsupportedFormat reports a recognised format the package does not
	// read (JCEKS, BKS, ...); the wrapping error names it and how to convert it.
	ErrUnsupportedFormat = errors.New("keystore: unsupported keystore format")

	// ErrAliasNotFound reports that no entry has the given alias.
	ErrAliasNotFound = errors.New("keystore: alias not found")

	// ErrAliasExists reports that an entry already has the alias (compared
	// case-insensitively, as Java does).
	ErrAliasExists = errors.New("keystore: alias already exists")

	// ErrNotKeyEntry reports an operation that needs a key entry on an alias
	// that holds a trusted-certificate entry.
	ErrNotKeyEntry = errors.New("keystore: not a key entry")

	// ErrKeyMismatch reports a certificate whose public key is not the
	// private key's. It is [chain.ErrKeyMismatch], so that [errors.Is]
	// gives the same answer whichever package found the mismatch.
	ErrKeyMismatch = chain.ErrKeyMismatch

	// ErrBrokenChain reports a chain in which a certificate is not signed by
	// the next one. It is [chain.ErrBrokenChain], so that [errors.Is] gives
	// the same answer whether the store or package chain checked the chain.
	ErrBrokenChain = chain.ErrBrokenChain

	// ErrInvalidFingerprint reports text that is not a SHA-256
	// fingerprint; the error is a [*FingerprintError] that says why.
	ErrInvalidFingerprint = errors.New("keystore: invalid SHA-256 fingerprint")

	// ErrUntrustedReply reports a CA reply that reaches no trust anchor.
	ErrUntrustedReply = errors.New("keystore: certificate reply does not reach a trust anchor")

	// ErrPasswordEncoding reports a password that the format cannot express
	// (for JKS and PKCS#12, a password that is not valid UTF-8).
	ErrPasswordEncoding = errors.New("keystore: password cannot be encoded for this format")

	// ErrCorruptKey reports a key entry whose key decrypts (its password
	// and the store's integrity check are right) but whose contents are
	// inconsistent: bytes that are not PKCS #8, or a key of an algorithm Go
	// uses that fails its consistency checks, such as an RSA key whose
	// primes do not multiply to its modulus. It is not [ErrUnsupportedKey]
	// (a sound key of an algorithm Go cannot use, such as DSA) nor
	// [ErrMalformed] (a file that breaks the format). The entry still lists
	// and is written back unchanged; restore it from a backup or replace it
	// with [Store.InstallReply] and [WithNewKey], or [Store.Set].
	ErrCorruptKey = errors.New("keystore: private key is corrupt")

	// ErrUnsupportedCertificate reports a certificate that crypto/x509
	// cannot parse (a key on secp256k1 or a binary curve, for example);
	// the error is a [*EntryCertificateError] that names what the raw bytes
	// still tell.
	ErrUnsupportedCertificate = errors.New("keystore: certificate Go cannot parse")

	// ErrEntryKind reports an operation that would overwrite an entry of a
	// kind it does not overwrite unless told to ([OverwriteAnyKind]); the
	// error is a [*KindError].
	ErrEntryKind = errors.New("keystore: the entry is of another kind")

	// ErrLimit reports input that exceeds a safety limit: an iteration
	// count above 5,000,000 (the JDK's limit), a derived key or nesting
	// depth beyond what any real file uses, or key-derivation work beyond
	// about a second for the whole file (iterations × output blocks ×
	// derivations, every password form counted), refused before the work
	// is done. A length beyond the input is [ErrMalformed].
	ErrLimit = errors.New("keystore: input exceeds a safety limit")
)

// MalformedError says where a keystore file is malformed. It matches
// [ErrMalformed] with [errors.Is].
type MalformedError struct {
	Format Format // the format being decoded
	Offset int64  // byte offset of the problem, or -1 when unknown
	Field  string // the field being read, such as "certificate length"
	Detail string // what was expected and what was found
}

func (e *MalformedError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("keystore: malformed %v: %s at offset %d: %s", e.Format, e.Field, e.Offset, e.Detail)
	}
	return fmt.Sprintf("keystore: malformed %v: %s: %s", e.Format, e.Field, e.Detail)
}

// Is makes a MalformedError match [ErrMalformed].
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

// KindError reports that an operation refused to overwrite the entry under
// Alias because of its kind, such as a [SecretKeyEntry] that [Store.Set],
// [Store.Replace] or [Store.InstallReply] would turn into a
// [KeyEntry]. The option [OverwriteAnyKind] lets the operation go ahead.
// It matches [ErrEntryKind] and [ErrNotKeyEntry] with [errors.Is].
type KindError struct {
	Op    string    // the refused operation: "Set", "Replace", "InstallReply"
	Alias string    // the alias as written in the store
	Kind  EntryKind // what the entry holds
	Want  EntryKind // what the operation would write there
}

func (e *KindError) Error() string {
	return fmt.Sprintf("keystore: %s: alias %q holds a %v (%s); %s would overwrite it with a %v: "+
		"give OverwriteAnyKind() to replace it, or use another alias", e.Op, e.Alias, e.Kind, e.Kind.describe(), e.Op, e.Want)
}

// Is makes a KindError match [ErrEntryKind] and [ErrNotKeyEntry].
func (e *KindError) Is(target error) bool { return target == ErrEntryKind || target == ErrNotKeyEntry }

// markedError is an error with a keystore message that matches a sentinel
// of another package (such as [chain.ErrBrokenChain]) with [errors.Is],
// without that package's prefix in the message.
type markedError struct {
	msg      string
	sentinel error
}

func (e *markedError) Error() string { return e.msg }
func (e *markedError) Unwrap() error { return e.sentinel }

// FingerprintError reports text that [ParseFingerprint] cannot read as a
// SHA-256 fingerprint. It matches [ErrInvalidFingerprint] with
// [errors.Is].
type FingerprintError struct {
	Input  string // the text as given
	Reason string // what was expected and what was found
}

func (e *FingerprintError) Error() string {
	return fmt.Sprintf("keystore: fingerprint %q: %s", e.Input, e.Reason)
}

// Is makes a FingerprintError match [ErrInvalidFingerprint].
func (e *FingerprintError) Is(target error) bool { return target == ErrInvalidFingerprint }
