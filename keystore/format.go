package keystore

import "fmt"

// Format is a keystore file format. The zero Format is none of them: not
// yet known (Open and Parse sniff the format), and it prints as "unknown".
type Format int

const (
	// formatUnknown is the zero Format.
	formatUnknown Format = iota
	// JKS is Sun's Java KeyStore format (magic 0xFEEDFEED).
	JKS
	// PKCS12 is the PKCS #12 format of RFC 7292 (.p12, .pfx), Java's default
	// keystore type since Java 9.
	PKCS12
)

// String returns "JKS", "PKCS#12" or "unknown".
func (f Format) String() string {
	switch f {
	case JKS:
		return "JKS"
	case PKCS12:
		return "PKCS#12"
	case formatUnknown:
		return "unknown"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}
