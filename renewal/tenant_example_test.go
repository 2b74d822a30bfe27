package renewal_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/local"
)

// The two-phase renewal by hand, without an executor: today the tenant
// stages a new key and sends the certificate request to the CA; next
// week, when the CA's reply arrives, it installs the reply onto the same
// key and activates it under the live alias, keeping the old entry in the
// history store.
func ExampleTenant() {
	dir, err := os.MkdirTemp("", "certroll-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	exec := exampleLandscape(dir) // a live keystore whose alias "client" the old CA signed
	tenant := exec.Tenant
	live, err := tenant.LiveChain()
	if err != nil {
		fmt.Println(err)
		return
	}

	// Today: a new key in the staging store, and a request for it with the
	// current certificate's subject.
	pending, err := tenant.Stage(live[0])
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("request for:", pending.CSR.Subject.CommonName, "- signed:", pending.Signed)

	// Next week, in another process: the CA's reply to pending.CSRPEM.
	newCA := exec.CA.(*local.CA)
	reply, err := newCA.Sign(context.Background(), pending.CSRPEM)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := tenant.Install(reply, newCA.Root()); err != nil {
		fmt.Println(err)
		return
	}
	pending, err = tenant.Pending() // read back from the staging store
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("signed:", pending.Signed, "- issued by:", pending.Chain[0].Issuer.CommonName)

	// Then: the new entry under the live alias, the old one in history.
	a, err := tenant.Activate(live[0], pending.Chain[0])
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("live alias:", tenant.Alias, "- now issued by:", a.Chain[0].Issuer.CommonName)
	fmt.Println("history:", filepath.Base(a.Files[0])) // the first file written keeps the old entry
	// Output:
	// request for: tenant-client - signed: false
	// signed: true - issued by: New Root CA
	// live alias: client - now issued by: New Root CA
	// history: tenant.p12.history
}

// A run that is interrupted (here, its context is cancelled once step 4
// is done; a kill does the same) and started again with the same journal
// does only what is left: the steps done are not repeated.
func ExampleExecutor_resume() {
	dir, err := os.MkdirTemp("", "certroll-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	exec := exampleLandscape(dir)

	ctx, cancel := context.WithCancel(context.Background())
	exec.OnEvent = func(e renewal.Event) {
		if e.Kind == renewal.EventStepDone && e.Step.ID == renewal.StepConfirmAcceptBoth {
			cancel()
		}
	}
	res, err := exec.Run(ctx)
	fmt.Println("first run:", errors.Is(err, context.Canceled), len(res.Completed()), "steps done")

	exec.OnEvent = func(e renewal.Event) {
		if e.Kind == renewal.EventStepDone {
			fmt.Printf("%d. %s: done\n", e.Step.Number, e.Step.ID)
		}
	}
	res, err = exec.Run(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("second run:", res.State, len(res.Completed()), "steps done")

	j, err := renewal.ReadJournal(exec.Journal)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("attempts of step 1:", j.Step(renewal.StepGenerateKey).Attempts)
	ks, err := keystore.Open(exec.Tenant.Keystore, exec.Tenant.Password, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	chain, err := ks.Certificates("client")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("live alias issued by:", chain[0].Issuer.CommonName)
	// Output:
	// first run: true 4 steps done
	// 5. swap-entry: done
	// 6. notify-restart: done
	// 7. restart-nodes: done
	// 8. notify-new-in-use: done
	// 9. remove-old: done
	// second run: done 9 steps done
	// attempts of step 1: 1
	// live alias issued by: New Root CA
}
