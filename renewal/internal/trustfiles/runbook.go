package trustfiles

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/truststore"
)

// The files a person works with by hand, as the runbook names them: the
// hand-over files of step 2 renamed, and the old ones.
const (
	NewRootFile   = "new-root.pem"
	NewClientFile = "new-client.pem"
	NewClientKey  = "new-client.key"
	OldRootFile   = "old-root.pem"
	OldClientFile = "old-client.pem"
)

// Runbook says how a person makes a receiver's changes by hand: the runbook
// ([renewal.Plan.Markdown]) prints its lines under the receiver's steps.
type Runbook struct {
	// Files are the receiver's files.
	Files *Files
	// Check is the configuration check, as shell lines (empty for none).
	Check []string
	// Reload makes the server read the files, as shell lines (empty for
	// none).
	Reload []string
	// Connect is the host:port where the server asks for client
	// certificates, for the openssl s_client check of the advertised CA
	// names; empty means no check is printed.
	Connect string
	// ServerName is the SNI to send; empty means openssl's default.
	ServerName string
	// URL is the https URL the gate's check sends a request to; empty
	// means none is printed.
	URL string
	// ServerCA is printed as curl's --cacert when the server's certificate
	// is verified against roots of the caller's (not the system's).
	ServerCA bool
}

// Instructions implements [renewal.Instructor] for the receiver steps: the
// edits of the trust file and the list, the check, the reload and the
// check of the advertised CA names under overlap steps 3 and 9 and
// downtime steps 8 and 12, and a request presenting the chain under a step
// whose gate asks whether the receiver accepts it. A line that would name
// a path holding a control character is replaced by a comment saying to
// make that change by hand: printed, the character would be rewritten
// into another path.
func (b *Runbook) Instructions(s renewal.Step) []string {
	var lines []string
	switch s.ID {
	case renewal.StepReceiverAcceptBoth:
		lines = append(lines, "# "+NewRootFile+" is the new root and "+NewClientFile+" the new client certificate (with its intermediates), the files of step 2:")
		lines = append(lines, b.trustAdd()...)
		lines = append(lines, b.listAdd()...)
		lines = append(lines, b.apply()...)
		lines = append(lines, b.names("name the new root next to the old one")...)
	case renewal.StepReceiverSwap:
		lines = append(lines, "# "+NewRootFile+" is the new root and "+NewClientFile+" the new client certificate (with its intermediates), the files of step 2; "+OldClientFile+" is the old client certificate:")
		lines = append(lines, b.trustAdd()...)
		lines = append(lines, b.listRemove()...)
		lines = append(lines, b.listAdd()...)
		lines = append(lines, b.apply()...)
		lines = append(lines, b.names("name the new root")...)
	case renewal.StepRemoveOld:
		lines = append(lines, "# "+OldClientFile+" is the old client certificate and "+OldRootFile+" the old root:")
		lines = append(lines, b.listRemove()...)
		lines = append(lines, b.trustRemove()...)
		lines = append(lines, b.apply()...)
		lines = append(lines, b.names("no longer name the old root")...)
	}
	if s.Gate != nil && (s.Gate.Kind == renewal.GateReceiverAcceptsBoth || s.Gate.Kind == renewal.GateReceiverAcceptsNew) {
		lines = append(lines, b.present()...)
	}
	for i, l := range lines {
		if hasControl(l) {
			// The runbook's markdown would rewrite the character, and the
			// line would name another file: print none to run.
			lines[i] = "# This command names a path holding a control character, which the runbook cannot print as it is: make this change by hand (the command, Go-quoted: " + strconv.Quote(l) + ")"
		}
	}
	return lines
}

// hasControl reports whether s holds a control character (a tab included)
// or invalid UTF-8.
func hasControl(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

func (b *Runbook) trustAdd() []string {
	f := b.Files
	if f.Trust == "" {
		return nil
	}
	t := Quote(f.Trust)
	switch f.TrustKind {
	case truststore.PEMBundle:
		return []string{"# Add the new root to the trust file:", "cat " + NewRootFile + " >> " + t}
	default:
		return []string{"# Import the new root into the truststore (keytool asks for its password):",
			"keytool -importcert -noprompt -alias certroll-new-root -file " + NewRootFile + " -keystore " + t + " -storetype " + storeType(f.TrustKind)}
	}
}

func (b *Runbook) trustRemove() []string {
	f := b.Files
	if f.Trust == "" {
		return nil
	}
	t := Quote(f.Trust)
	switch f.TrustKind {
	case truststore.PEMBundle:
		// The block equal to the old root's PEM is dropped, every other
		// line kept; cat keeps the file's mode and owner. One line chained
		// with &&: a failing awk must not lead to the cat that would
		// truncate the live file, even in a shell without -e.
		return []string{"# Remove the old root's block from the trust file:",
			`awk -v old="$(openssl x509 -in ` + OldRootFile + `)" '/-----BEGIN CERTIFICATE-----/{b="";inb=1} inb{b=b $0 "\n"; if (/-----END CERTIFICATE-----/) {inb=0; if (b != old "\n") printf "%s", b}; next} {print}' ` + t + ` > ` + t + `.new && cat ` + t + `.new > ` + t + ` && rm ` + t + `.new`}
	default:
		st := storeType(f.TrustKind)
		return []string{"# Find the alias of the old root (its SHA-256 fingerprint is in the parameters above) and delete it (keytool asks for the password):",
			"keytool -list -keystore " + t + " -storetype " + st,
			"# keytool -delete -alias <the old root's alias> -keystore " + t + " -storetype " + st}
	}
}

// fingerprint is the shell pipeline printing the digest of file's first
// certificate as the list's format writes it.
func (b *Runbook) fingerprint(file string) string {
	switch b.Files.ListFormat {
	case NginxMap:
		return "openssl x509 -in " + file + " -noout -fingerprint -sha1 | sed 's/.*=//; s/://g' | tr A-F a-f"
	case HAProxyACL:
		return "openssl x509 -in " + file + " -noout -fingerprint -sha1 | sed 's/.*=//; s/://g'"
	default:
		return "openssl x509 -in " + file + " -noout -fingerprint -sha256 | sed 's/.*=//'"
	}
}

func (b *Runbook) listAdd() []string {
	f := b.Files
	if f.List == "" {
		return nil
	}
	line := b.fingerprint(NewClientFile)
	if f.ListFormat == NginxMap {
		line += " | sed 's/$/ 1;/'"
	}
	return []string{"# Accept the new client certificate: append its line (" + f.ListFormat.want() + ") to the list:",
		line + " >> " + Quote(f.List)}
}

func (b *Runbook) listRemove() []string {
	f := b.Files
	if f.List == "" {
		return nil
	}
	end := `[[:space:]]*$`
	if f.ListFormat == NginxMap {
		end = `[[:space:]]+1;`
	}
	return []string{"# Stop accepting the old client certificate: delete its line from the list:",
		`sed -i -E "/^[[:space:]]*$(` + b.fingerprint(OldClientFile) + `)` + end + `/d" ` + Quote(f.List)}
}

func (b *Runbook) apply() []string {
	var lines []string
	if len(b.Check) > 0 {
		lines = append(lines, "# Check the configuration; reload only if the check passes (otherwise undo the edits):")
		lines = append(lines, b.Check...)
	}
	if len(b.Reload) > 0 {
		lines = append(lines, "# Reload the server:")
		lines = append(lines, b.Reload...)
	}
	return lines
}

// sClient is the openssl s_client command connecting to the server.
func (b *Runbook) sClient() string {
	l := "openssl s_client -connect " + Quote(b.Connect)
	if b.ServerName != "" {
		l += " -servername " + Quote(b.ServerName)
	}
	return l
}

func (b *Runbook) names(want string) []string {
	if b.Connect == "" {
		return nil
	}
	return []string{"# Check the CA names the server advertises (a Java client presents only a certificate whose issuer is among them); they must " + want + ":",
		b.sClient() + " </dev/null 2>/dev/null | sed -n '/Acceptable client certificate CA names/,/Requested Signature/p'"}
}

func (b *Runbook) present() []string {
	if b.URL == "" {
		return nil
	}
	curl := "curl -sS -o /dev/null -w '%{http_code}\\n' --cert " + NewClientFile + " --key " + NewClientKey
	if b.ServerCA {
		curl += " --cacert server-ca.pem"
	}
	lines := []string{"# Check that the receiver accepts the new chain: present it (" + NewClientKey + " is the new key, from the staging store) and expect a status other than 400, 401, 403, 495 or 496:"}
	if b.ServerCA {
		lines = append(lines, "# (server-ca.pem is the root of the server's certificate)")
	}
	lines = append(lines, curl+" "+Quote(b.URL))
	if b.Connect != "" {
		lines = append(lines, "# and that the server advertises the new root's name:",
			b.sClient()+" </dev/null 2>/dev/null | sed -n '/Acceptable client certificate CA names/,/Requested Signature/p'")
	}
	return lines
}

func storeType(k truststore.Kind) string {
	if k == truststore.PKCS12 {
		return "PKCS12"
	}
	return "JKS"
}

// Quote quotes s for a POSIX shell when it needs it, so that a command
// printed in the runbook runs as the receiver runs it.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// QuoteArgs quotes every argument of argv and joins them with spaces.
func QuoteArgs(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// HostPort returns the host:port of an https URL (port 443 when it names
// none), or "" if u is not one.
func HostPort(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return ""
	}
	if p.Port() != "" {
		return p.Host
	}
	return net.JoinHostPort(p.Hostname(), "443")
}
