package renewal_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/local"
)

// exampleLandscape builds, in dir, a tenant keystore whose alias "client"
// holds a certificate from an old CA, a receiver that accepts it, two
// runtime nodes presenting it, and an executor for the overlap renewal to
// a new CA. Errors end the example.
func exampleLandscape(dir string) *renewal.Executor {
	ctx := context.Background()
	now := func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	oldCA, err := local.NewCA(local.CAConfig{Name: "Old Root CA", Now: now})
	must(err)
	newCA, err := local.NewCA(local.CAConfig{Name: "New Root CA", Now: now})
	must(err)
	key, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	must(err)
	oldChain, err := oldCA.Issue("tenant-client", key.Public())
	must(err)
	password := []byte("changeit")
	live := filepath.Join(dir, "tenant.p12")
	ks := keystore.New(keystore.PKCS12, nil)
	must(ks.Set(&keystore.Entry{Alias: "client", Key: key, Chain: oldChain}, nil))
	must(ks.Save(live, password, nil))

	rcv, err := local.NewReceiver(local.ReceiverConfig{
		Truststore:         filepath.Join(dir, "receiver.jks"),
		TruststorePassword: password,
		Accepted:           filepath.Join(dir, "accepted.pem"),
		Now:                now,
	})
	must(err)
	must(rcv.TrustRoot(ctx, oldCA.Root()))
	must(rcv.AcceptClient(ctx, oldChain))
	// No traffic is sent in the example, so the receiver is not started.
	rt, err := local.NewRuntime(local.RuntimeConfig{Nodes: 2, Keystore: live, KeystorePassword: password,
		Alias: "client", Receiver: rcv})
	must(err)
	must(rt.StartAll(ctx))

	plan, err := renewal.Build(renewal.SequenceOverlap, renewal.Params{
		Alias:              "client",
		Keystore:           live,
		Nodes:              []string{"node-1", "node-2"},
		OldFingerprint:     keystore.CertFingerprint(oldChain[0]).Hex(),
		OldRootSubject:     oldCA.Root().Subject.String(),
		OldRootFingerprint: keystore.CertFingerprint(oldCA.Root()).Hex(),
		NewRootSubject:     newCA.Root().Subject.String(),
		NewRootFingerprint: keystore.CertFingerprint(newCA.Root()).Hex(),
	})
	must(err)
	return &renewal.Executor{
		Plan:     plan,
		Tenant:   &renewal.Tenant{Keystore: live, Password: password, Alias: "client", Now: now},
		Journal:  filepath.Join(dir, "renewal.journal.json"),
		CA:       newCA,
		Receiver: rcv,
		Runtime:  rt,
		Notifier: &local.Notifier{W: io.Discard},
	}
}

func ExampleExecutor() {
	dir, err := os.MkdirTemp("", "certroll-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	exec := exampleLandscape(dir)
	exec.OnEvent = func(e renewal.Event) {
		switch e.Kind {
		case renewal.EventStepDone:
			fmt.Printf("%d. %s: done\n", e.Step.Number, e.Step.ID)
		case renewal.EventGatePassed:
			fmt.Printf("%d. %s: gate %s passed\n", e.Step.Number, e.Step.ID, e.Step.Gate.Kind)
		}
	}
	res, err := exec.Run(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.State, len(res.Completed()), "steps")
	// Output:
	// 1. generate-key: done
	// 2. hand-over-certificate: done
	// 3. receiver-accept-both: done
	// 4. confirm-accept-both: done
	// 5. swap-entry: gate receiver accepts the old and the new chain passed
	// 5. swap-entry: done
	// 6. notify-restart: done
	// 7. restart-nodes: gate every node presents the new certificate passed
	// 7. restart-nodes: done
	// 8. notify-new-in-use: done
	// 9. remove-old: gate old certificate and old root unused passed
	// 9. remove-old: done
	// done 9 steps
}

func ExampleExecutor_DryRun() {
	dir, err := os.MkdirTemp("", "certroll-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	exec := exampleLandscape(dir)
	d, err := exec.DryRun(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range d.Steps {
		if g := s.Gate; g != nil {
			fmt.Printf("step %d, gate %s %s: checked %q, deferred %d\n", s.Number, g.When, g.Kind, g.Checked, len(g.Deferred))
		}
	}
	_, err = os.Stat(exec.Journal)
	fmt.Println("journal written:", err == nil)
	// Output:
	// step 5, gate before receiver accepts the old and the new chain: checked ["the receiver accepts the old chain"], deferred 1
	// step 7, gate after every node presents the new certificate: checked [], deferred 1
	// step 9, gate before old certificate and old root unused: checked ["no chain declared in use chains to the old root"], deferred 2
	// journal written: false
}
