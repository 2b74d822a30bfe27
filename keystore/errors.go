package keystore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/internal/atomicfile"
)

// Sentinel errors that callers branch on with [errors.Is]. Every error the
// package returns wraps at most one of them and adds what was expected and
// what was found; none of them ever contains a password.
var (
	// ErrIncorrectPassword reports that a store's integrity check or a key
	// entry's decryption failed. As with the JDK, the two causes cannot be
	// told apart: the message says "tampered with, or password incorrect".
	ErrIncorrectPassword = errors.New("keystore: the store was tampered with, or password incorrect")

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

	// ErrNotKeyEntry reports an alias whose entry is of another kind than
	// the operation needs: a trusted-certificate entry where a key entry is
	// needed, or an entry that [Store.Set], [Store.Replace] and
	// [Store.InstallReply] overwrite only when told to (OverwriteAnyKind),
	// such as a [SecretKeyEntry]. The message names the operation, the
	// alias, what the entry holds and what the operation would write there
	// ([Store.Kind] tells the kind too).
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
	// with [Store.InstallReply] and [ReplyOptions.NewKey], or [Store.Set].
	ErrCorruptKey = errors.New("keystore: private key is corrupt")

	// ErrUnsupportedCertificate reports a certificate that crypto/x509
	// cannot parse (a key on secp256k1 or a binary curve, for example).
	// The message names the alias, the certificate's position in the
	// chain, and what its raw bytes still tell: the SHA-256 fingerprint,
	// the subject, the public key's algorithm and curve; the error unwraps
	// to crypto/x509's. The entry still lists ([Store.Summaries] gives the
	// chain's length and what the leaf's raw bytes tell: subject, issuer,
	// serial number, key) and is written back unchanged when the store is
	// saved; [Store.Set], or [Store.InstallReply] with
	// [ReplyOptions.NewKey], replaces it.
	ErrUnsupportedCertificate = errors.New("keystore: certificate Go cannot parse")

	// ErrLimit reports input that exceeds a safety limit: an iteration
	// count above 5,000,000 (the JDK's limit), a derived key or nesting
	// depth beyond what any real file uses, or key-derivation work beyond
	// about a second for the whole file (iterations × output blocks ×
	// derivations, every password form counted), refused before the work
	// is done. A length beyond the input is [ErrMalformed].
	ErrLimit = errors.New("keystore: input exceeds a safety limit")

	// ErrUnsupportedKey reports a key the operation cannot use, such as an ECDSA
	// key on a curve other than P-256, P-384 or P-521, or a signer whose public
	// key is of a type crypto/x509 does not sign with; or a [KeyType] value or
	// name that is not one of the package's key types, with a message that
	// quotes it and lists the accepted names.
	ErrUnsupportedKey = errors.New("keystore: unsupported key")

	// ErrLocked reports that a keystore file's lock stayed held by another
	// process (or another lock in this one) until the wait for it ended.
	// The message names the lock file; the error also matches why the wait
	// ended (context.DeadlineExceeded or context.Canceled) with
	// [errors.Is].
	//
	// A keystore's directory must let this process create files there (the
	// lock file and the temporary file are made in it); an error saying
	// so names the directory and matches the underlying error, usually
	// [io/fs.ErrPermission].
	ErrLocked = atomicfile.ErrLocked
)

// inner wraps an error of this package for a message of this package
// that names the context first ("keystore: InstallReply "a": ..."), so
// that the package's name is not repeated inside the message. It unwraps
// to err.
type inner struct{ err error }

func (e inner) Error() string { return strings.TrimPrefix(e.err.Error(), "keystore: ") }
func (e inner) Unwrap() error { return e.err }

// MalformedError says where input is malformed: a keystore file ([Parse],
// [Open]: Format and Field say what was being decoded) or certificates and
// certificate requests ([ParseCertificates], [ParseCSR]: Encoding and
// Index say what was recognised). Its message adds what was expected and
// what was found. It matches [ErrMalformed] with [errors.Is] and unwraps to
// the underlying parser's error (crypto/x509's, for a certificate Go
// cannot parse), if there is one.
type MalformedError struct {
	// Format is the keystore format being decoded, or the zero Format
	// when it was not recognised and for certificates and requests.
	Format Format
	// Encoding is, for certificates and requests, the encoding recognised
	// so far: "PEM", "DER", "PKCS#7", "PkiPath", "PEM/PKCS#7", ...; "" when
	// none was recognised, and for a keystore file.
	Encoding string
	// Index is the position of the offending certificate among those read
	// (counting from 0, in input order), or -1 when the problem is not
	// with one certificate (always for a keystore file).
	Index int
	// Offset is the byte offset of the problem in the input, -1 when
	// unknown: for PEM input, of the PEM block's BEGIN line; for binary
	// input, of the ASN.1 element or field.
	Offset int64
	// Field is, for a keystore file, the field being read, such as
	// "certificate length"; "" for certificates and requests.
	Field string

	input  string // for certificates and requests: "certificates" or "certificate request"
	detail string // what was expected and what was found
	err    error  // the underlying error, or nil
}

// Error returns the message. For a keystore file: the format, the field
// and the offset where known, what was expected and what was found. For
// certificates and requests: what was read, the encoding, the
// certificate's index and the offset where known, what was expected and
// what was found, and the underlying error.
func (e *MalformedError) Error() string {
	if e.input == "" {
		if e.Format == formatUnknown && e.Field == "magic" {
			// The first bytes are neither format's: the file is not a
			// keystore at all, which "malformed unknown" does not say.
			return "keystore: not a JKS or PKCS#12 keystore: " + e.detail
		}
		if e.Offset >= 0 {
			return fmt.Sprintf("keystore: malformed %v: %s at offset %d: %s", e.Format, e.Field, e.Offset, e.detail)
		}
		return fmt.Sprintf("keystore: malformed %v: %s: %s", e.Format, e.Field, e.detail)
	}
	var b strings.Builder
	b.WriteString("keystore: reading ")
	b.WriteString(e.input)
	if e.Encoding != "" {
		b.WriteString(" (")
		b.WriteString(e.Encoding)
		b.WriteString(")")
	}
	if e.Index >= 0 {
		fmt.Fprintf(&b, ": certificate at index %d", e.Index)
	}
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " at offset %d", e.Offset)
	}
	if e.detail != "" {
		b.WriteString(": ")
		b.WriteString(e.detail)
	}
	if e.err != nil {
		b.WriteString(": ")
		b.WriteString(e.err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *MalformedError) Unwrap() error { return e.err }

// Is makes a MalformedError match [ErrMalformed].
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

// kindError reports that an operation refused to overwrite the entry
// under alias because of its kind, such as a [SecretKeyEntry] that
// [Store.Set], [Store.Replace] or [Store.InstallReply] would turn into a
// [KeyEntry]. The option OverwriteAnyKind ([SetOptions], [ReplaceOptions],
// [ReplyOptions]) lets the operation go ahead. It matches
// [ErrNotKeyEntry] with [errors.Is].
type kindError struct {
	op    string    // the refused operation: "Set", "Replace", "InstallReply"
	alias string    // the alias as written in the store
	kind  EntryKind // what the entry holds
	want  EntryKind // what the operation would write there
}

func (e *kindError) Error() string {
	return fmt.Sprintf("keystore: %s: alias %q holds a %v (%s); %s would overwrite it with a %v: "+
		"set OverwriteAnyKind in the options to replace it, or use another alias", e.op, e.alias, e.kind, e.kind.describe(), e.op, e.want)
}

// Is makes a kindError match [ErrNotKeyEntry].
func (e *kindError) Is(target error) bool { return target == ErrNotKeyEntry }

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
// SHA-256 fingerprint; its message quotes the text. It matches
// [ErrInvalidFingerprint] with [errors.Is].
type FingerprintError struct {
	Reason string // what was expected and what was found
	input  string // the text as given
}

func (e *FingerprintError) Error() string {
	return fmt.Sprintf("keystore: fingerprint %q: %s", e.input, e.Reason)
}

// Is makes a FingerprintError match [ErrInvalidFingerprint].
func (e *FingerprintError) Is(target error) bool { return target == ErrInvalidFingerprint }

// entryCertificateError reports a certificate that crypto/x509 cannot
// parse, such as one whose key is on a binary curve (sect193r1) or on
// secp256k1. Its message names the alias and says what can still be read
// from the raw bytes: the certificate's position, its SHA-256
// fingerprint, the subject, and the public key's algorithm and curve
// ([Store.Summaries] gives the same for a listing). It matches
// [ErrUnsupportedCertificate] with [errors.Is] and unwraps to
// crypto/x509's error.
type entryCertificateError struct {
	index  int         // the certificate's position in the chain (1 is the leaf)
	sha256 Fingerprint // fingerprint of the raw certificate

	alias     string // the alias the caller asked for, as written in the store
	count     int    // the chain's length
	subject   string // the subject, or "" if even that cannot be read
	algorithm string // the public key algorithm's OID, or "" if it cannot be read
	curve     string // the named curve's OID for an EC key, else ""
	err       error  // crypto/x509's error
}

func (e *entryCertificateError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "keystore: alias %q: certificate %d of %d (SHA256 %s", e.alias, e.index, e.count, e.sha256)
	if e.subject != "" {
		fmt.Fprintf(&b, ", subject %q", e.subject)
	}
	if d := rawKeyDescription(e.algorithm, e.curve); d != "" {
		fmt.Fprintf(&b, ", public key %s", d)
	}
	fmt.Fprintf(&b, ") cannot be parsed by Go: %v; the entry still lists and is kept unchanged when the store is saved; "+
		"Set, or InstallReply with ReplyOptions.NewKey, replaces it", e.err)
	return b.String()
}

func (e *entryCertificateError) Unwrap() error { return e.err }

// Is makes an entryCertificateError match [ErrUnsupportedCertificate].
func (e *entryCertificateError) Is(target error) bool { return target == ErrUnsupportedCertificate }

// unsupportedFormatError names a keystore format the package recognises
// but does not read, and how to convert it; its message says both, so a
// caller needs only [ErrUnsupportedFormat] to tell it apart. It matches
// [ErrUnsupportedFormat] with [errors.Is].
type unsupportedFormatError struct {
	name    string // "JCEKS", "BKS or UBER", ...
	convert string // a command that converts it to a supported format
}

func (e *unsupportedFormatError) Error() string {
	return fmt.Sprintf("keystore: %s keystores are not supported; convert to PKCS#12 with: %s", e.name, e.convert)
}

// Is makes an unsupportedFormatError match [ErrUnsupportedFormat].
func (e *unsupportedFormatError) Is(target error) bool { return target == ErrUnsupportedFormat }
