package truststore

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/certroll/certroll/internal/atomicfile"
	"github.com/certroll/certroll/keystore"
)

// certExtensions are the file name extensions read from a directory,
// compared ignoring case. Other files (OpenSSL's hash links such as
// "5ad8a5d6.0", READMEs) are left alone.
var certExtensions = map[string]bool{".pem": true, ".crt": true, ".cer": true, ".der": true}

// Open reads the trust set at path:
//
//   - a directory: every regular file (or link to one) whose name ends in
//     .pem, .crt, .cer or .der and does not start with ".", in name order,
//     holding PEM or DER certificates; a file that cannot be read as
//     certificates is an error. A file holding one certificate gives it the
//     alias of the file name without the extension (the whole file name if
//     two files share that stem, ignoring case); a file holding several
//     gives "stem:1", "stem:2", ...
//   - a text file: a PEM bundle (see [Parse]);
//   - otherwise a JKS or PKCS#12 keystore opened with password, whose
//     trusted-certificate entries form the set (see [FromStore]).
func Open(path string, password []byte) (*Set, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("truststore: %w", err)
	}
	if fi.IsDir() {
		return openDir(path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("truststore: %w", err)
	}
	s, err := Parse(data, password)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Parse reads a trust set from data: a PEM bundle when data is text (an
// empty file included), else a JKS or PKCS#12 keystore opened with
// password.
//
// A PEM bundle holds CERTIFICATE blocks; text around them is allowed. A
// comment line "# alias: NAME" before a block (as [Set.Save] writes) gives
// the certificate's alias; without one the alias is derived (see
// [Entry.Alias]). A block of another type (a private key, or OpenSSL's
// TRUSTED CERTIFICATE, whose trust settings would be lost on saving), a
// broken block or a certificate crypto/x509 cannot parse is an error
// matching [keystore.ErrMalformed] that says which block.
func Parse(data, password []byte) (*Set, error) {
	if looksText(data) {
		return parseBundle(data)
	}
	ks, err := keystore.Parse(data, password, nil)
	if err != nil {
		return nil, fmt.Errorf("truststore: %w", err)
	}
	return FromStore(ks)
}

// looksText reports whether data is UTF-8 text without control characters
// other than tab, CR and LF. Keystores never are: JKS starts with 0xFEEDFEED
// and PKCS#12 with a DER SEQUENCE whose length bytes are not UTF-8.
func looksText(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	for _, c := range data {
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
			return false
		}
	}
	return true
}

var (
	beginMarker = []byte("-----BEGIN")
	aliasPrefix = "# alias:"
)

func parseBundle(data []byte) (*Set, error) {
	s := newSet(PEMBundle)
	rest := data
	for n := 1; ; n++ {
		block, r := pem.Decode(rest)
		if block == nil {
			break
		}
		consumed := rest[:len(rest)-len(r)]
		start := bytes.LastIndex(consumed, beginMarker)
		pre := consumed[:start]
		offset := len(data) - len(rest) + start
		if i := beginLine(pre); i >= 0 {
			return nil, fmt.Errorf("%w: PEM bundle: block at offset %d is broken (no matching END line or bad base64)", errMalformed, len(data)-len(rest)+i)
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: PEM bundle: block %d at offset %d is %q, want CERTIFICATE: a trust bundle holds certificates only", errMalformed, n, offset, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: PEM bundle: block %d at offset %d: %w", errMalformed, n, offset, err)
		}
		alias := aliasComment(pre)
		if alias == "" || checkAlias(PEMBundle, alias) != nil {
			alias = aliasFor(c)
		}
		alias = s.free(alias)
		s.insert(&entry{alias: alias, cert: c})
		rest = r
	}
	if i := beginLine(rest); i >= 0 {
		return nil, fmt.Errorf("%w: PEM bundle: block at offset %d is broken (no matching END line or bad base64)", errMalformed, len(data)-len(rest)+i)
	}
	return s, nil
}

// beginLine returns the offset of the first line of b that starts with
// "-----BEGIN" (where encoding/pem looks for blocks), or -1.
func beginLine(b []byte) int {
	for off := 0; off < len(b); {
		if bytes.HasPrefix(b[off:], beginMarker) {
			return off
		}
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			break
		}
		off += i + 1
	}
	return -1
}

// aliasComment returns the alias given by the last "# alias:" line of
// text, or "".
func aliasComment(text []byte) string {
	alias := ""
	for _, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, aliasPrefix) {
			alias = strings.TrimSpace(line[len(aliasPrefix):])
		}
	}
	return alias
}

// marshalPEM writes entries as CERTIFICATE blocks, each preceded by
// comment lines; withAlias adds the alias line.
func marshalPEM(entries []*entry, withAlias bool) []byte {
	var b bytes.Buffer
	for i, e := range entries {
		if i > 0 {
			b.WriteByte('\n')
		}
		if withAlias {
			fmt.Fprintf(&b, "%s %s\n", aliasPrefix, printable(e.alias))
		}
		fmt.Fprintf(&b, "# subject: %s\n", printable(dnString(e.cert.Subject)))
		fmt.Fprintf(&b, "# sha256: %s\n", keystore.CertFingerprint(e.cert))
		fmt.Fprintf(&b, "# valid: %s to %s\n", e.cert.NotBefore.UTC().Format(time.RFC3339), e.cert.NotAfter.UTC().Format(time.RFC3339))
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: e.cert.Raw}) // writing to a bytes.Buffer cannot fail
	}
	return b.Bytes()
}

// printable replaces control characters, so that a subject or alias
// cannot break out of its comment line.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

func openDir(dir string) (*Set, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("truststore: %w", err)
	}
	type file struct {
		name  string
		certs []*x509.Certificate
	}
	var files []file
	for _, de := range des {
		n := de.Name()
		if strings.HasPrefix(n, ".") || !certExtensions[strings.ToLower(filepath.Ext(n))] {
			continue
		}
		p := filepath.Join(dir, n)
		fi, err := os.Stat(p) // follows links, as Debian's /etc/ssl/certs uses them
		if err != nil {
			return nil, fmt.Errorf("truststore: %w", err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("truststore: %w", err)
		}
		certs, err := keystore.ParseCertificates(data)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", errMalformed, p, err)
		}
		files = append(files, file{name: n, certs: certs})
	}
	s := newSet(Directory)
	s.dir = dir
	for _, f := range files {
		s.reserve(f.name)
	}
	// next remembers the first suffix not yet found taken per wanted
	// alias, so that many files whose names differ only in case (each
	// wanting its own name, which folds to the same alias) are named in
	// linear time.
	next := map[string]int{}
	for _, f := range files {
		base := stem(f.name)
		for i, c := range f.certs {
			want := base
			if len(f.certs) > 1 {
				want = base + ":" + strconv.Itoa(i+1)
			}
			if _, ok := s.byAlias[fold(want)]; ok {
				want = f.name
				if len(f.certs) > 1 {
					want = f.name + ":" + strconv.Itoa(i+1)
				}
			}
			alias := want
			if s.byAlias[fold(alias)] != nil {
				n := max(next[fold(want)], 2)
				for alias = want + "-" + strconv.Itoa(n); s.byAlias[fold(alias)] != nil; n++ {
					alias = want + "-" + strconv.Itoa(n+1)
				}
				next[fold(want)] = n
			}
			s.insert(&entry{alias: alias, cert: c, file: f.name})
		}
	}
	return s, nil
}

// Save writes the set to path in its kind, atomically per file:
//
//   - JKS, PKCS#12: the keystore, with the set's changes applied and its
//     other entries untouched, by [keystore.Store.Save] (a temporary file
//     renamed over path; an existing file keeps its mode, a new one is
//     0600), protected by password;
//   - PEM bundle: the bundle with comment lines (see [Parse]), written to a
//     temporary file renamed over path; an existing file keeps its mode, a
//     new one is 0644 (certificates are public); password is not used;
//   - directory: path is created if missing. Saving to the directory the
//     set was read from writes a new file "ALIAS.pem" for each certificate
//     added, rewrites each file that held both removed and kept
//     certificates, and removes each file whose certificates were all
//     removed; other files are not touched. Saving anywhere else writes a
//     file for every certificate and removes nothing. Each file is
//     replaced atomically, but not the directory as a whole: a reader may
//     see some files changed and others not. Hash links (OpenSSL's
//     c_rehash) are not maintained: run c_rehash or update-ca-certificates
//     afterwards if the directory has them.
//
// Every kind is written under a lock that other certroll writers of the
// same file respect (for a directory, DIR.lock beside it, held while all
// of its files are written), waiting for it up to a minute
// ([atomicfile.DefaultTimeout]); a file keeps its mode, owner and group,
// and a symbolic link is written through (the file it points to is
// replaced; the link stays). See [keystore.Store.Save] for the details.
func (s *Set) Save(path string, password []byte) error {
	switch s.kind {
	case JKS, PKCS12:
		if err := s.sync(); err != nil {
			return err
		}
		if err := s.store.Save(path, password, nil); err != nil {
			return fmt.Errorf("truststore: %w", err)
		}
		return nil
	case PEMBundle:
		return writeFileAtomic(path, marshalPEM(s.entries, true))
	case Directory:
		return s.saveDir(path)
	}
	return fmt.Errorf("truststore: cannot save a set of kind %v", s.kind)
}

// Marshal returns the set encoded in its kind, for a JKS, PKCS#12 or PEM
// bundle set (see [Set.Save]); a directory set cannot be marshalled to one
// byte slice.
func (s *Set) Marshal(password []byte) ([]byte, error) {
	switch s.kind {
	case JKS, PKCS12:
		if err := s.sync(); err != nil {
			return nil, err
		}
		data, err := s.store.Marshal(password)
		if err != nil {
			return nil, fmt.Errorf("truststore: %w", err)
		}
		return data, nil
	case PEMBundle:
		return marshalPEM(s.entries, true), nil
	}
	return nil, fmt.Errorf("truststore: a %v set is saved as files, not marshalled; use Save", s.kind)
}

func (s *Set) saveDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("truststore: %w", err)
	}
	// One lock for the directory (DIR.lock beside it), held while its
	// files are checked, written and removed.
	ctx, cancel := atomicfile.Within()
	defer cancel()
	lk, err := atomicfile.Lock(ctx, dir)
	if err != nil {
		return fmt.Errorf("truststore: %w", err)
	}
	defer lk.Unlock()
	dir = lk.Path()
	same := s.dir != "" && sameDir(s.dir, dir)
	groups := map[string][]*entry{}
	write := map[string]bool{}
	// fresh are the files written where none of the set's was: they must
	// not exist yet, so that no file the set did not read is replaced.
	fresh := map[string]bool{}
	for _, e := range s.entries {
		f := e.file
		if f == "" {
			f = e.alias + ".pem"
			fresh[f] = true
		}
		groups[f] = append(groups[f], e)
		write[f] = true
	}
	if same {
		for f := range write {
			if !fresh[f] && !s.touched[f] {
				delete(write, f)
			}
		}
	} else {
		for f := range write {
			fresh[f] = true
		}
	}
	for f := range fresh {
		if same && s.touched[f] {
			continue // a file the set read, whose certificates were removed
		}
		if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
			return fmt.Errorf("truststore: %s: %w; the set did not read it, so it is not replaced (open the directory to merge into it)", filepath.Join(dir, f), fs.ErrExist)
		}
	}
	for _, e := range s.entries {
		if e.file == "" {
			e.file = e.alias + ".pem"
		}
	}
	var remove []string
	if same {
		for f := range s.touched {
			if len(groups[f]) > 0 {
				write[f] = true
			} else {
				remove = append(remove, f)
			}
		}
	}
	names := make([]string, 0, len(write))
	for f := range write {
		names = append(names, f)
	}
	sort.Strings(names)
	sort.Strings(remove)
	for _, f := range remove {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("truststore: %w", err)
		}
	}
	for _, f := range names {
		if err := lk.WriteIn(f, marshalPEM(groups[f], false), atomicfile.Options{Mode: 0o644}); err != nil {
			return fmt.Errorf("truststore: %w", err)
		}
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	s.dir = dir
	clear(s.touched)
	for f := range write {
		s.reserve(f)
	}
	return nil
}

// reserve keeps new certificates from taking the alias that a file in a
// directory set has, or would have: its name with and without extension.
func (s *Set) reserve(name string) {
	why := fmt.Sprintf("a file named %q is in the directory", name)
	s.reserved[fold(stem(name))] = why
	s.reserved[fold(name)] = why
}

func sameDir(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	if errA != nil || errB != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return os.SameFile(fa, fb)
}

// writeFileAtomic replaces path with data atomically under its lock (see
// [atomicfile.Write]; it waits up to [atomicfile.DefaultTimeout]). An
// existing file keeps its permission bits, owner and group; a new one is
// 0644, since a PEM truststore holds only public certificates.
func writeFileAtomic(path string, data []byte) error {
	ctx, cancel := atomicfile.Within()
	defer cancel()
	if err := atomicfile.Write(ctx, path, data, atomicfile.Options{Mode: 0o644}); err != nil {
		return fmt.Errorf("truststore: %w", err)
	}
	return nil
}

// syncDir makes renames and removals in dir durable.
func syncDir(dir string) error {
	if err := atomicfile.SyncDir(dir); err != nil {
		return fmt.Errorf("truststore: %w", err)
	}
	return nil
}
