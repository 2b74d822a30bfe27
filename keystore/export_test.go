package keystore

// SignatureAlgorithmFor lets the external tests check the algorithm NewCSR
// signs with for each key type.
var SignatureAlgorithmFor = signatureAlgorithmFor

// KeyTypes lets the external tests range over every key type.
var KeyTypes = keyTypes

// What the external tests check of the errors beyond their exported
// fields: the input a CertificateParseError or FingerprintError was about
// and a CertificateParseError's detail, which its message carries.
func ParseErrorInput(e *CertificateParseError) string  { return e.input }
func ParseErrorDetail(e *CertificateParseError) string { return e.detail }
func FingerprintErrorInput(e *FingerprintError) string { return e.input }

// NewCertificateParseError builds the error the parsers return, for the
// test of its message.
func NewCertificateParseError(input, encoding string, index int, offset int64, detail string, err error) *CertificateParseError {
	return &CertificateParseError{input: input, Encoding: encoding, Index: index, Offset: offset, detail: detail, err: err}
}
