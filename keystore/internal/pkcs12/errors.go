package pkcs12

import (
	"errors"
	"fmt"
)

// FormatError reports input that violates the format. Offset is a file
// offset, or -1 when the problem lies in data that was decrypted or
// rewritten from BER and so has no place in the file.
type FormatError struct {
	Offset int64
	Field  string
	Detail string
}

func (e *FormatError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("pkcs12: %s at offset %d: %s", e.Field, e.Offset, e.Detail)
	}
	return fmt.Sprintf("pkcs12: %s: %s", e.Field, e.Detail)
}

// LimitError reports a value beyond a safety limit, found before any work
// was done with it.
type LimitError struct {
	Field string
	Value int64
	Max   int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("pkcs12: %s is %d; at most %d is accepted", e.Field, e.Value, e.Max)
}

// UnsupportedError reports a valid construct the package does not handle.
type UnsupportedError struct {
	Field string
	What  string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("pkcs12: %s: %s is not supported", e.Field, e.What)
}

var (
	// ErrDecrypt reports that decryption produced no valid padding: the
	// password is wrong or the data was tampered with.
	ErrDecrypt = errors.New("pkcs12: decryption failed")
	// ErrMAC reports that the integrity check failed: the password is
	// wrong or the file was tampered with.
	ErrMAC = errors.New("pkcs12: integrity check failed")
	// ErrPasswordEncoding reports a password that is not valid UTF-8 and
	// so has no BMPString form.
	ErrPasswordEncoding = errors.New("pkcs12: password is not valid UTF-8")
)

// prefixErr puts the path of the enclosing structure in front of the
// field an error names. Parsers name fields relative to what they parse
// and callers add the path only when something failed, so that reading a
// large file builds no field names.
func prefixErr(err error, prefix, sep string) error {
	join := func(f string) string {
		if f == "" {
			return prefix
		}
		return prefix + sep + f
	}
	switch e := err.(type) {
	case *FormatError:
		e.Field = join(e.Field)
	case *LimitError:
		e.Field = join(e.Field)
	case *UnsupportedError:
		e.Field = join(e.Field)
	}
	return err
}
