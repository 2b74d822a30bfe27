// Command downtime runs the renewal of a tenant client certificate for a
// receiver that accepts only one client certificate at a time: the flow
// is stopped for a window in which the tenant and the receiver swap, then
// restarted on every node. It runs on one machine over real TLS, with the
// runtime nodes' messages failing only inside the window.
//
//	go run ./examples/downtime [-format jks|pkcs12] [-nodes N] [-dir D]
//	                           [-runbook] [-skip-restart-node K] [-summary FILE]
//
// The flags are those of examples/overlap; the summary adds the window and
// the failures outside it (zero when all went well).
package main

import (
	"os"

	"github.com/certroll/certroll/examples/internal/demo"
	"github.com/certroll/certroll/renewal"
)

func main() {
	os.Exit(demo.Main(renewal.SequenceDowntime, os.Args[1:], os.Stdout, os.Stderr))
}
