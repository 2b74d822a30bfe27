package keystore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/certroll/certroll/internal/keytoolname"
)

// Magic numbers at the start of the formats the package tells apart.
const (
	magicJKS   = 0xFEEDFEED
	magicJCEKS = 0xCECECECE
)

// Sniff returns the format of a keystore file from its first bytes, or an
// error that names what was found instead.
func Sniff(data []byte) (Format, error) {
	if len(data) == 0 {
		return formatUnknown, &MalformedError{Index: -1, Offset: 0, Field: "file", detail: "want a keystore, got an empty file"}
	}
	if data[0] == 0x30 {
		// PKCS#12 is a DER or BER SEQUENCE.
		return PKCS12, nil
	}
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("-----BEGIN")) {
		return formatUnknown, &unsupportedFormatError{name: "PEM",
			convert: "openssl pkcs12 -export -in cert.pem -inkey key.pem -name ALIAS -out store.p12; a file of certificates alone is a certificate bundle: use it as a CA reply or a PEM trust bundle"}
	}
	if len(data) < 4 {
		return formatUnknown, &MalformedError{Index: -1, Offset: 0, Field: "magic", detail: fmt.Sprintf("want 4 bytes, file has %d", len(data))}
	}
	switch m := binary.BigEndian.Uint32(data); m {
	case magicJKS:
		return JKS, nil
	case magicJCEKS:
		return formatUnknown, &unsupportedFormatError{name: "JCEKS",
			convert: "keytool -importkeystore -srckeystore IN -srcstoretype JCEKS -destkeystore OUT.p12 -deststoretype PKCS12"}
	case 1, 2:
		// Bouncy Castle's BKS (versions 1 and 2) and UBER start with a
		// version number.
		return formatUnknown, &unsupportedFormatError{name: "BKS or UBER (Bouncy Castle)",
			convert: "keytool -importkeystore -srckeystore IN -srcstoretype BKS -providerpath bcprov.jar -provider org.bouncycastle.jce.provider.BouncyCastleProvider -destkeystore OUT.p12 -deststoretype PKCS12"}
	default:
		return formatUnknown, &MalformedError{Index: -1, Offset: 0, Field: "magic",
			detail: fmt.Sprintf("want 0xFEEDFEED (JKS) or a DER SEQUENCE (PKCS#12), got 0x%08X", m)}
	}
}

// Parse decodes a JKS or PKCS#12 keystore (the format is sniffed),
// checking its integrity with password, and configures the store with
// opts (nil means the zero [StoreOptions]). Key entries are decrypted on
// first use, with the key password given for the alias and the store
// password (see [Store.Entry]). The store keeps a copy of password for
// that.
//
// A wrong password gives [ErrIncorrectPassword]; truncated or garbage
// input gives [ErrMalformed] saying where; a format the package does not
// read gives [ErrUnsupportedFormat].
//
// The store does not keep data: it keeps a copy of it (untouched entries
// are written back from the copy), so the caller may change or reuse data
// afterwards. [Open] spares the copy, as the buffer it reads the file into
// is its own.
func Parse(data, password []byte, opts *StoreOptions) (*Store, error) {
	return parse(data, password, opts, false)
}

// parse is [Parse]; owned says that the store may keep data, which nobody
// else holds (see parseJKS).
func parse(data, password []byte, opts *StoreOptions, owned bool) (*Store, error) {
	f, err := Sniff(data)
	if err != nil {
		return nil, err
	}
	o := storeOptions(opts)
	var s *Store
	switch f {
	case JKS:
		s, err = parseJKS(data, password, o, owned)
	default:
		decode := parsePKCS12
		if owned {
			decode = decodePKCS12
		}
		if s, err = decode(data, password, o); err != nil {
			err = notAKeystore(data, err)
		}
	}
	if err != nil {
		return nil, err
	}
	s.format = f
	s.opts = o
	// Both decoders keep only the last of several entries with one alias
	// themselves, as Java does, and build the store's index as they go.
	s.password = append([]byte(nil), password...)
	return s, nil
}

// Open reads and parses the keystore file at path; see [Parse]. The store
// keeps the buffer the file was read into, without a copy: opening a JKS
// file costs its size and about 255 bytes an entry, a PKCS#12 file its
// size and about 420 bytes an entry, as its certificates are decrypted
// in that buffer (a Modern2024 file of P-256 keys, about 890 bytes an
// entry, within 1.5 times its size and 16 MB whatever its size).
func Open(path string, password []byte, opts *StoreOptions) (*Store, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	s, err := parse(data, password, opts, true)
	if err != nil {
		var ue *unsupportedFormatError
		if errors.As(err, &ue) {
			ue.convert = convertCommand(ue.convert, path)
		}
		return nil, fmt.Errorf("keystore: %s: %w", path, inner{err})
	}
	return s, nil
}

// convertCommand puts the file's name into a conversion command in place
// of IN, and a name for the converted file in place of OUT.p12.
func convertCommand(cmd, path string) string {
	out := strings.TrimSuffix(path, filepath.Ext(path)) + ".p12"
	if out == path {
		out = path + ".converted.p12"
	}
	cmd = strings.Replace(cmd, " IN ", " "+shellQuote(path)+" ", 1)
	return strings.Replace(cmd, "OUT.p12", shellQuote(out), 1)
}

// shellQuote quotes a file name for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./+:@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// notAKeystore returns the error for data that failed to decode as
// PKCS#12 (err) when it is in fact a certificate bundle (PKCS#7 or DER
// certificates), as a CA hands out: it says what it is and what to do
// with it. Otherwise it returns err.
func notAKeystore(data []byte, err error) error {
	if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedFormat) {
		return err
	}
	certs, cerr := ParseCertificates(data)
	if cerr != nil || len(certs) == 0 {
		return err
	}
	n := "1 certificate"
	if len(certs) > 1 {
		n = fmt.Sprintf("%d certificates", len(certs))
	}
	return fmt.Errorf("%w: the input is a certificate bundle (%s, first %q), not a keystore; "+
		"use it as a CA reply to install onto a key entry, or as a trust bundle for a truststore",
		ErrUnsupportedFormat, n, keytoolname.Format(certs[0].RawSubject))
}

// newCodec returns the codec for a new, empty store.
func newCodec(s *Store) codec {
	if s.format == JKS {
		return newJKSCodec()
	}
	return newPKCS12Codec()
}
