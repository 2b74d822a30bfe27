package keystore

// SignatureAlgorithmFor lets the external tests check the algorithm NewCSR
// signs with for each key type.
var SignatureAlgorithmFor = signatureAlgorithmFor

// KeyTypes lets the external tests range over every key type.
var KeyTypes = keyTypes

// What the external tests check of the errors beyond their exported
// fields, which their messages carry: the input a MalformedError about
// certificates or a FingerprintError was about, and the detail.
func ParseErrorInput(e *MalformedError) string         { return e.input }
func ParseErrorDetail(e *MalformedError) string        { return e.detail }
func FingerprintErrorInput(e *FingerprintError) string { return e.input }

// NewCertificateParseError builds the error the certificate parsers
// return, for the test of its message.
func NewCertificateParseError(input, encoding string, index int, offset int64, detail string, err error) *MalformedError {
	return &MalformedError{input: input, Encoding: encoding, Index: index, Offset: offset, detail: detail, err: err}
}
