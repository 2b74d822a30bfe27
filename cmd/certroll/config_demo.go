package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal/local"
)

// The demo landscape's names, relative to its folder.
const (
	demoConfig     = "renewal.yaml"
	demoOldCA      = "old-ca"
	demoNewCA      = "ca"
	demoTenantPW   = "tenant.pw"
	demoReceiverPW = "receiver.pw"
	demoTruststore = "receiver-truststore.jks"
	demoAccepted   = "accepted-clients.pem"
	demoHandOver   = "handover"
	demoAlias      = "client"
)

// demoYAML is the demo's configuration; %[1]s is the tenant keystore's
// file, %[2]s its format.
const demoYAML = `# A demo renewal written by certroll config demo: everything runs on this
# machine, inside certroll renew. Relative paths are relative to this file.
#
#   certroll plan renewal.yaml    # the runbook
#   certroll renew renewal.yaml   # the whole renewal, with traffic flowing
#   certroll status renewal.yaml  # where it stands
#
# The passwords are in tenant.pw and receiver.pw (0600), never in this file.

# The tenant's keystore: alias client holds a certificate of the old CA
# (old-ca/ca.pem).
tenant:
  keystore: %[1]s
  format: %[2]s
  alias: client
  password: {file: tenant.pw}

# certroll's own CA, kept in ca/ (ca.pem, ca.key): it signs the request at
# once, and its root is the new root.
ca:
  embedded: {dir: ca}

# certroll's own HTTPS receiver on 127.0.0.1: it trusts the roots of its
# truststore (the old root today) and accepts the client certificates of
# the accepted list (the old one today).
receiver:
  embedded:
    truststore: receiver-truststore.jks
    truststore_kind: JKS
    password: {file: receiver.pw}
    accepted: accepted-clients.pem

# Two nodes that send messages with the tenant's certificate while the
# renewal runs; the summary counts the failed ones.
runtime:
  embedded: {nodes: 2, rate: 20}

notifier:
  print: true

# overlap: the receiver trusts both roots for a while, so traffic never stops.
sequence: choose
# The old certificate and root are removed once the receiver has seen no
# handshake with the old certificate for this long.
drain: 1s
# Step 2 writes the new certificate and root here for the receiver's
# administrator.
hand_over_dir: handover
`

// demoFile is one file the demo wrote, for the listing.
type demoFile struct {
	Path string `json:"path"`
	What string `json:"what"`
}

func newConfigDemoCmd(e *env) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "demo DIR",
		Short: "Write a complete demo landscape and its renewal configuration in a new folder",
		Long: `demo writes, in DIR (which must not exist or be empty), a landscape that
certroll renew runs on this machine alone, with nothing installed:

  old-ca/                  the old CA (ca.pem, ca.key)
  tenant.p12               the tenant keystore (PKCS#12, or JKS with
                           --format jks): alias client, signed by the old CA
  receiver-truststore.jks  the embedded receiver's truststore: the old root
  accepted-clients.pem     the client certificates it accepts: the old one
  ca/                      the new CA, which signs the renewal at once
  tenant.pw, receiver.pw   the passwords, random, 0600
  renewal.yaml             the renewal: embedded receiver, two embedded
                           nodes, embedded CA, overlap

It then prints the commands to run next.`,
		Example: `  certroll config demo /tmp/demo
  certroll renew /tmp/demo/renewal.yaml`,
		Args: exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var f keystore.Format
			switch strings.ToLower(strings.ReplaceAll(format, "#", "")) {
			case "pkcs12", "p12":
				f = keystore.PKCS12
			case "jks":
				f = keystore.JKS
			default:
				return usageErr(fmt.Errorf("--format %q: give pkcs12 or jks", format))
			}
			return writeDemo(e, args[0], f)
		},
	}
	cmd.Flags().StringVar(&format, "format", "pkcs12", "the tenant keystore's format: pkcs12 or jks")
	return cmd
}

// writeDemo writes the demo landscape in dir, which must not exist or be
// empty. On failure it removes what it wrote.
func writeDemo(e *env, dir string, f keystore.Format) (err error) {
	entries, err := os.ReadDir(dir)
	created := false
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return usageErr(fmt.Errorf("the demo folder %s cannot be made: %w", dir, errors.Unwrap(err)))
		}
		created = true
	case err != nil:
		if fi, serr := os.Stat(dir); serr == nil && !fi.IsDir() {
			return usageErr(fmt.Errorf("%s is a file, not a folder: give a new or empty folder for the demo", dir))
		}
		return usageErr(fmt.Errorf("the demo folder %s cannot be read: %w", dir, errors.Unwrap(err)))
	case len(entries) > 0:
		names := make([]string, 0, 3)
		for i, en := range entries {
			if i == 3 {
				names = append(names, "…")
				break
			}
			names = append(names, en.Name())
		}
		return usageErr(fmt.Errorf("the demo folder %s is not empty (it holds %s): give a new or empty folder; config demo never overwrites a file", dir, strings.Join(names, ", ")))
	}
	defer func() {
		if err == nil {
			return
		}
		if created {
			os.RemoveAll(dir)
			return
		}
		if entries, rerr := os.ReadDir(dir); rerr == nil {
			for _, en := range entries {
				os.RemoveAll(filepath.Join(dir, en.Name()))
			}
		}
	}()

	files, err := demoLandscape(dir, f)
	if err != nil {
		return fmt.Errorf("writing the demo landscape in %s: %w", dir, err)
	}
	cfg := filepath.Join(dir, demoConfig)
	next := []string{"certroll plan " + cfg, "certroll renew " + cfg}
	if e.json {
		return e.writeJSON(map[string]any{"dir": dir, "config": cfg, "files": files, "next": next})
	}
	fmt.Fprintf(e.stdout, "Demo landscape written in %s:\n", dir)
	for _, df := range files {
		fmt.Fprintf(e.stdout, "  %-24s %s\n", df.Path, df.What)
	}
	fmt.Fprintln(e.stdout, "\nNext: the runbook, then the whole renewal (overlap, traffic flowing):")
	for _, n := range next {
		fmt.Fprintf(e.stdout, "  %s\n", n)
	}
	fmt.Fprintln(e.stdout, "From a clone without certroll installed, write go run ./cmd/certroll for certroll.")
	return nil
}

// demoLandscape writes the demo's files in dir and says what each is.
func demoLandscape(dir string, f keystore.Format) ([]demoFile, error) {
	ctx := context.Background()
	var files []demoFile
	add := func(path, format string, args ...any) {
		files = append(files, demoFile{Path: path, What: fmt.Sprintf(format, args...)})
	}

	tenantPW, err := writeDemoPassword(filepath.Join(dir, demoTenantPW))
	if err != nil {
		return nil, err
	}
	defer wipe(tenantPW)
	receiverPW, err := writeDemoPassword(filepath.Join(dir, demoReceiverPW))
	if err != nil {
		return nil, err
	}
	defer wipe(receiverPW)

	oldCA, err := local.NewCA(local.CAConfig{Name: "Old Root CA", Dir: filepath.Join(dir, demoOldCA)})
	if err != nil {
		return nil, err
	}
	add(demoOldCA+"/", "the old CA: Owner: %s (ca.pem; its key ca.key, 0600)", oldCA.Root().Subject)

	key, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	if err != nil {
		return nil, err
	}
	chain, err := oldCA.Issue("tenant-client", key.Public())
	if err != nil {
		return nil, err
	}
	ksName := "tenant.p12"
	if f == keystore.JKS {
		ksName = "tenant.jks"
	}
	ks := keystore.New(f, nil)
	if err := ks.Set(&keystore.Entry{Alias: demoAlias, Key: key, Chain: chain}, nil); err != nil {
		return nil, err
	}
	if err := ks.Save(filepath.Join(dir, ksName), tenantPW, nil); err != nil {
		return nil, err
	}
	add(ksName, "the tenant keystore (%s, 0600): Alias name: %s, Entry type: PrivateKeyEntry, Owner: %s, Issuer: %s, SHA256: %s",
		f, demoAlias, chain[0].Subject, chain[0].Issuer, colonHex(keystore.CertFingerprint(chain[0]).Hex()))

	rcv, err := local.NewReceiver(local.ReceiverConfig{
		Truststore:         filepath.Join(dir, demoTruststore),
		TruststorePassword: receiverPW,
		Accepted:           filepath.Join(dir, demoAccepted),
	})
	if err != nil {
		return nil, err
	}
	if err := rcv.TrustRoot(ctx, oldCA.Root()); err != nil {
		return nil, err
	}
	if err := rcv.AcceptClient(ctx, chain); err != nil {
		return nil, err
	}
	add(demoTruststore, "the embedded receiver's truststore (JKS): the old root")
	add(demoAccepted, "the client certificates the receiver accepts: the old one")

	newCA, err := local.NewCA(local.CAConfig{Name: "New Root CA", Dir: filepath.Join(dir, demoNewCA)})
	if err != nil {
		return nil, err
	}
	add(demoNewCA+"/", "the new CA, which signs the renewal at once: Owner: %s", newCA.Root().Subject)
	add(demoTenantPW+", "+demoReceiverPW, "the two passwords, random (0600); renewal.yaml names the files")

	if err := os.Mkdir(filepath.Join(dir, demoHandOver), 0o700); err != nil {
		return nil, err
	}
	add(demoHandOver+"/", "where step 2 writes the new certificate and root for the receiver's administrator")

	yaml := fmt.Sprintf(demoYAML, ksName, f)
	if err := writeNew(filepath.Join(dir, demoConfig), []byte(yaml), 0o644); err != nil {
		return nil, err
	}
	add(demoConfig, "the renewal: embedded receiver, 2 embedded nodes, embedded CA, print notifier, sequence choose")
	return files, nil
}

// writeDemoPassword writes a new random password to path (0600) and
// returns it; the caller wipes it.
func writeDemoPassword(path string) ([]byte, error) {
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	pw := []byte(hex.EncodeToString(raw))
	wipe(raw)
	line := append(append([]byte(nil), pw...), '\n')
	defer wipe(line)
	if err := writeNew(path, line, 0o600); err != nil {
		wipe(pw)
		return nil, err
	}
	return pw, nil
}

// writeNew writes data to a new file at path with mode perm, refusing an
// existing file.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
