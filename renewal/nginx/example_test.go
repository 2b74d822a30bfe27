package nginx_test

import (
	"fmt"

	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/nginx"
)

// The commands the runbook prints under overlap step 3 for this receiver.
// The files need not exist to print them.
func ExampleReceiver_Instructions() {
	rcv, err := nginx.NewReceiver(nginx.Config{
		ClientCA: "/etc/nginx/certroll/client-ca.pem",
		PinMap:   "/etc/nginx/certroll/pinned-clients.map",
		PidFile:  "/run/nginx.pid",
		Nginx:    "/usr/sbin/nginx",
		URL:      "https://receiver.example:8443/health",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, line := range rcv.Instructions(renewal.Step{Number: 3, ID: renewal.StepReceiverAcceptBoth}) {
		fmt.Println(line)
	}
	// Output:
	// # new-root.pem is the new root and new-client.pem the new client certificate (with its intermediates), the files of step 2:
	// # Add the new root to the trust file:
	// cat new-root.pem >> /etc/nginx/certroll/client-ca.pem
	// # Accept the new client certificate: append its line ("<40 hex digits of the SHA-1 fingerprint> 1;") to the list:
	// openssl x509 -in new-client.pem -noout -fingerprint -sha1 | sed 's/.*=//; s/://g' | tr A-F a-f | sed 's/$/ 1;/' >> /etc/nginx/certroll/pinned-clients.map
	// # Check the configuration; reload only if the check passes (otherwise undo the edits):
	// /usr/sbin/nginx -t
	// # Reload the server:
	// /usr/sbin/nginx -s reload
	// # Check the CA names the server advertises (a Java client presents only a certificate whose issuer is among them); they must name the new root next to the old one:
	// openssl s_client -connect receiver.example:8443 </dev/null 2>/dev/null | sed -n '/Acceptable client certificate CA names/,/Requested Signature/p'
}
