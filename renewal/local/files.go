package local

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/internal/atomicfile"
	"github.com/certroll/certroll/keystore"
)

// maxListFile bounds the size of a PEM certificate list the package reads:
// a list of a few thousand certificates fits many times over, and a bound
// keeps a stray large file from being read into memory whole.
const maxListFile = 16 << 20

// readCertList reads a PEM certificate list: PEM CERTIFICATE blocks, with
// any text between them ignored. A file that holds nothing but white space
// and lines starting with '#' is an empty list; anything else that holds
// no certificate is an error, so that a damaged file is noticed instead of
// read as "trust nothing".
func readCertList(path string) ([]*x509.Certificate, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	if fi.Size() > maxListFile {
		return nil, fmt.Errorf("local: %s: %d bytes, more than the %d a certificate list may have", path, fi.Size(), maxListFile)
	}
	data := make([]byte, 0, fi.Size()+1)
	buf := bytes.NewBuffer(data)
	if _, err := buf.ReadFrom(io.LimitReader(f, maxListFile+1)); err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	certs, err := parseCertList(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("local: %s: %w", path, err)
	}
	return certs, nil
}

// parseCertList parses the contents of a PEM certificate list; see
// [readCertList].
func parseCertList(data []byte) ([]*x509.Certificate, error) {
	if onlyComments(data) {
		return nil, nil
	}
	return keystore.ParseCertificates(data)
}

// onlyComments reports whether data holds nothing but white space and
// lines whose first non-blank character is '#'.
func onlyComments(data []byte) bool {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' {
			return false
		}
	}
	return true
}

// formatCertList encodes certs as a PEM certificate list, each block
// preceded by a comment naming the certificate and its SHA-256
// fingerprint, so that a person reading the file can tell the entries
// apart. The output depends only on certs.
func formatCertList(header string, certs []*x509.Certificate) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n", header)
	for _, c := range certs {
		fmt.Fprintf(&b, "\n# %s\n# SHA-256 %s\n", chain.Name(c), keystore.CertFingerprint(c))
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}) // writes to a bytes.Buffer never fail
	}
	return b.Bytes()
}

// updateCertList edits the PEM certificate list at path under its lock,
// the one [keystore.Update] takes (path+".lock"): it reads the
// list, calls fn, and writes the result atomically if fn reports a change.
func updateCertList(path, header string, fn func([]*x509.Certificate) ([]*x509.Certificate, bool)) error {
	ctx, cancel := atomicfile.Within()
	defer cancel()
	lk, err := atomicfile.Lock(ctx, path)
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	defer lk.Unlock()
	certs, err := readCertList(lk.Path())
	if err != nil {
		return err
	}
	out, changed := fn(certs)
	if !changed {
		return nil
	}
	if err := lk.Write(formatCertList(header, out), atomicfile.Options{Mode: 0o600}); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	return nil
}

// writeFileAtomic replaces path with data atomically under its lock (see
// [atomicfile.Write]), so that the receiver's server reloading its
// configuration sees the old file or the new one, never a mix. An existing
// file keeps its permission bits, owner and group; a new one is created
// 0600.
func writeFileAtomic(path string, data []byte) error {
	ctx, cancel := atomicfile.Within()
	defer cancel()
	if err := atomicfile.Write(ctx, path, data, atomicfile.Options{Mode: 0o600}); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	return nil
}

// indexOf returns the index of the certificate in certs whose DER encoding
// equals c's, or -1.
func indexOf(certs []*x509.Certificate, c *x509.Certificate) int {
	for i, x := range certs {
		if bytes.Equal(x.Raw, c.Raw) {
			return i
		}
	}
	return -1
}
