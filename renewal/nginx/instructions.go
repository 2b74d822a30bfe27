package nginx

import (
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/internal/trustfiles"
)

var _ renewal.Instructor = (*Receiver)(nil)

// Instructions implements [renewal.Instructor]: for the steps that
// configure the receiver (overlap steps 3 and 9, downtime steps 8 and 12)
// it returns the commands that make the same change by hand, with the
// configured paths: the line that appends the new root to Config.ClientCA
// (or the awk line that removes the old one), the openssl line that
// prints a certificate's SHA-1 as a map line appended to Config.PinMap (or
// the sed line that deletes the old one), nginx -t and the reload with
// Config.Prefix and Config.ConfFile, and an openssl s_client line that
// shows the CA names nginx advertises at Config.Addr (or the host of
// Config.URL). Under a step whose gate asks whether the receiver accepts
// the new chain, it returns a curl line presenting it. The files are named
// as in the hand-over of step 2: new-root.pem, new-client.pem (and
// new-client.key), old-root.pem and old-client.pem in the current
// directory.
func (r *Receiver) Instructions(s renewal.Step) []string {
	reload := trustfiles.QuoteArgs(r.args("-s", "reload"))
	if r.cfg.ReloadSignal {
		reload = "kill -HUP \"$(cat " + trustfiles.Quote(r.cfg.PidFile) + ")\""
	}
	connect := r.cfg.Addr
	if connect == "" {
		connect = trustfiles.HostPort(r.cfg.URL)
	}
	u := r.cfg.URL
	if u == "" && r.cfg.Addr != "" {
		u = "https://" + r.cfg.Addr + "/"
	}
	b := &trustfiles.Runbook{
		Files:   r.files,
		Check:   []string{trustfiles.QuoteArgs(r.args("-t"))},
		Reload:  []string{reload},
		Connect: connect, ServerName: r.cfg.ServerName, URL: u, ServerCA: r.cfg.ServerRoots != nil,
	}
	return b.Instructions(s)
}
