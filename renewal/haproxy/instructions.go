package haproxy

import (
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/internal/trustfiles"
)

var _ renewal.Instructor = (*Receiver)(nil)

// Instructions implements [renewal.Instructor]: for the steps that
// configure the receiver (overlap steps 3 and 9, downtime steps 8 and 12)
// it returns the commands that make the same change by hand, with the
// configured paths: the line that appends the new root to Config.CAFile
// (or the awk line that removes the old one), the openssl line that
// prints a certificate's SHA-1 as an ACL line appended to
// Config.PinnedACL (or the sed line that deletes the old one),
// haproxy -c -f with Config.ConfigFiles, the reload (`echo reload | socat
// stdio` to Config.MasterSocket, else SIGUSR2 to the pid in
// Config.PidFile), and an openssl s_client line that shows the CA names
// HAProxy advertises at the host of Config.URL. Under a step whose gate
// asks whether the receiver accepts the new chain, it returns a curl line
// presenting it. The files are named as in the hand-over of step 2:
// new-root.pem, new-client.pem (and new-client.key), old-root.pem and
// old-client.pem in the current directory.
func (r *Receiver) Instructions(s renewal.Step) []string {
	check := []string{r.cfg.HAProxy, "-c"}
	for _, f := range r.cfg.ConfigFiles {
		check = append(check, "-f", f)
	}
	reload := "kill -USR2 \"$(head -n 1 " + trustfiles.Quote(r.cfg.PidFile) + ")\""
	if r.cfg.MasterSocket != "" {
		reload = "echo reload | socat stdio " + trustfiles.Quote(r.cfg.MasterSocket)
	}
	b := &trustfiles.Runbook{
		Files:   r.files,
		Check:   []string{trustfiles.QuoteArgs(check)},
		Reload:  []string{reload},
		Connect: trustfiles.HostPort(r.cfg.URL), ServerName: r.cfg.ServerName, URL: r.cfg.URL,
		ServerCA: r.cfg.ServerRoots != nil,
	}
	return b.Instructions(s)
}
