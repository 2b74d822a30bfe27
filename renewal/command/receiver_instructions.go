package command

import (
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/internal/trustfiles"
)

var _ renewal.Instructor = (*Receiver)(nil)

// Instructions implements [renewal.Instructor]: for the steps that
// configure the receiver (overlap steps 3 and 9, downtime steps 8 and 12)
// it returns the commands that make the same change by hand, with the
// configured paths: for a PEM bundle the line that appends the new root
// (or the awk line that removes the old one), for a JKS or PKCS#12
// truststore the keytool lines (keytool asks for the password: it is never
// printed); for the accepted list the openssl line that prints a
// certificate's digest in the list's format, appended to it (or the sed
// line that deletes the old one); then Config.Check and Config.Reload,
// shell-quoted, and with Config.URL an openssl s_client line that shows
// the CA names the server advertises. Under a step whose gate asks whether
// the receiver accepts the new chain, it returns a curl line presenting it
// (with Config.URL). The files are named as in the hand-over of step 2:
// new-root.pem, new-client.pem (and new-client.key), old-root.pem and
// old-client.pem in the current directory. The adapters [Receiver.Adapter]
// returns implement it too.
func (r *Receiver) Instructions(s renewal.Step) []string {
	b := &trustfiles.Runbook{
		Files:   r.files,
		Connect: trustfiles.HostPort(r.cfg.URL), ServerName: r.cfg.ServerName, URL: r.cfg.URL,
		ServerCA: r.cfg.ServerRoots != nil,
	}
	if len(r.cfg.Check) > 0 {
		b.Check = []string{trustfiles.QuoteArgs(r.cfg.Check)}
	}
	if len(r.cfg.Reload) > 0 {
		b.Reload = []string{trustfiles.QuoteArgs(r.cfg.Reload)}
	}
	return b.Instructions(s)
}
