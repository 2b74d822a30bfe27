package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal/probe"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newVerifyCmd) }

type verifyCmd struct {
	e          *env
	receiver   string
	receiverPW *passwordSource
	url        string
	keyFile    string
	serverCA   string
	serverName string
	timeout    time.Duration
	now        func() time.Time // nil means time.Now; tests fix it
}

func newVerifyCmd(e *env) *cobra.Command {
	c := &verifyCmd{e: e}
	cmd := &cobra.Command{
		Use:   "verify CHAIN --receiver TRUSTSTORE",
		Short: "Say whether a receiver accepts a client certificate chain, and why not",
		Long: `verify checks the client certificate chain in CHAIN (PEM, DER, PKCS#7 or
PkiPath, in any order) the way a TLS server trusting TRUSTSTORE (JKS,
PKCS#12, PEM bundle or directory of certificates) checks it in a handshake:
the path to a trusted root, validity, the clientAuth usage, key sizes. A
refusal lists every reason (exit 4).

With --url, verify also asks the real receiver: it connects to the https
URL presenting CHAIN with the private key in --key (PEM), reports the CA
names the server advertises (a Java client presents its certificate only if
an issuer of its chain is among them), the TLS version and the HTTP status,
and the receiver's verdict. The server's own certificate is checked
against --server-ca (default: the system roots).`,
		Example: `  certroll verify client-chain.pem --receiver receiver-truststore.pem
  certroll verify reply.p7b --receiver truststore.p12 --receiver-storepass-env TS_PW --json
  certroll verify client-chain.pem --receiver ca.pem --url https://receiver.example:8443/health --key client.key --server-ca server-ca.pem`,
		Args: exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error { return c.run(args[0]) },
	}
	cmd.Flags().StringVar(&c.receiver, "receiver", "", "truststore of the receiver (JKS, PKCS#12, PEM bundle or directory); required")
	c.receiverPW = addPasswordFlags(cmd, "receiver-storepass", "receiver truststore password")
	cmd.Flags().StringVar(&c.url, "url", "", "also probe this https URL of the receiver with a real handshake")
	cmd.Flags().StringVar(&c.keyFile, "key", "", "with --url: the chain's private key (PEM: PKCS#8, PKCS#1 or EC)")
	cmd.Flags().StringVar(&c.serverCA, "server-ca", "", "with --url: certificates that verify the server's certificate (default: the system roots)")
	cmd.Flags().StringVar(&c.serverName, "server-name", "", "with --url: the name the server's certificate must carry (default: the URL's host)")
	cmd.Flags().DurationVar(&c.timeout, "timeout", probe.DefaultTimeout, "with --url: how long the probe may take")
	return cmd
}

// verifyReport is the JSON document of certroll verify.
type verifyReport struct {
	Chain    string       `json:"chain"`
	Path     string       `json:"path"`
	Receiver string       `json:"receiver"`
	Accepted bool         `json:"accepted"`
	Anchor   *certJSON    `json:"anchor,omitempty"`
	Problems []string     `json:"problems"`
	Probe    *probeReport `json:"probe,omitempty"`
}

type probeReport struct {
	URL        string   `json:"url"`
	Accepted   bool     `json:"accepted"`
	Requested  bool     `json:"requested"`
	Advertised []string `json:"advertised"`
	Chosen     bool     `json:"java_would_present"`
	TLSVersion string   `json:"tls_version,omitempty"`
	Status     int      `json:"status,omitempty"`
	Problem    string   `json:"problem,omitempty"`
}

func (c *verifyCmd) run(chainPath string) error {
	if c.receiver == "" {
		return usageErr(errors.New("verify needs --receiver TRUSTSTORE: the truststore the receiver checks client certificates with"))
	}
	if c.url == "" && (c.keyFile != "" || c.serverCA != "" || c.serverName != "") {
		return usageErr(errors.New("--key, --server-ca and --server-name apply to the probe: give --url too, or leave them out"))
	}
	if c.url != "" && c.keyFile == "" {
		return usageErr(errors.New("--url needs --key FILE: the private key of the chain, which the probe signs the handshake with"))
	}
	data, err := os.ReadFile(chainPath)
	if err != nil {
		return fileErr("chain", chainPath, err)
	}
	certs, err := keystore.ParseCertificates(data)
	if err != nil {
		return usageErr(fmt.Errorf("chain %s holds no certificate certroll can read (PEM, DER, PKCS#7 or PkiPath): %w", chainPath, err))
	}
	ordered, err := chain.Order(certs)
	if err != nil {
		return refusedErr(fmt.Errorf("chain %s is not one certificate chain: %w", chainPath, err))
	}
	roots, err := openReceiver(c.receiver, c.receiverPW)
	if err != nil {
		return err
	}
	var key crypto.Signer
	if c.url != "" {
		if key, err = readPEMKey(c.keyFile); err != nil {
			return err
		}
	}
	r := &chain.Receiver{Roots: roots}
	if c.now != nil {
		r.Time = c.now()
	}
	rep := verifyReport{Chain: chainPath, Path: chain.Path(ordered), Receiver: c.receiver, Problems: []string{}}
	paths, verr := r.Verify(ordered)
	if verr == nil {
		rep.Accepted = true
		p := paths[0]
		a := describeChain(p[len(p)-1:])[0]
		rep.Anchor = &a
	} else {
		rep.Problems = problems(verr)
	}
	if c.url != "" {
		var root *x509.Certificate
		if verr == nil {
			root = paths[0][len(paths[0])-1]
		}
		if rep.Probe, err = c.probe(ordered, key, root); err != nil {
			return err
		}
	}
	if c.e.json {
		if err := c.e.writeJSON(rep); err != nil {
			return err
		}
	} else {
		c.writeHuman(&rep)
	}
	switch {
	case !rep.Accepted:
		return refusedErr(fmt.Errorf("a receiver trusting %s refuses chain %s (%d problem(s), listed above)", c.receiver, chainPath, len(rep.Problems)))
	case rep.Probe != nil && !rep.Probe.Accepted:
		return refusedErr(fmt.Errorf("the receiver at %s refuses chain %s: %s", c.url, chainPath, rep.Probe.Problem))
	}
	return nil
}

// probe asks the receiver at --url. root is the anchor the model found,
// named in the probe's verdict; nil when the model refused the chain.
func (c *verifyCmd) probe(certs []*x509.Certificate, key crypto.Signer, root *x509.Certificate) (*probeReport, error) {
	opts := &probe.Options{ServerName: c.serverName, Timeout: c.timeout, Root: root}
	pr := &probeReport{URL: c.url, Advertised: []string{}}
	if c.serverCA != "" {
		data, err := os.ReadFile(c.serverCA)
		if err != nil {
			return nil, fileErr("server CA file", c.serverCA, err)
		}
		sc, err := keystore.ParseCertificates(data)
		if err != nil {
			return nil, usageErr(fmt.Errorf("--server-ca %s holds no certificate certroll can read: %w", c.serverCA, err))
		}
		opts.Roots = x509.NewCertPool()
		for _, s := range sc {
			opts.Roots.AddCert(s)
		}
	}
	c.e.progress("Probing %s ...", c.url)
	res, err := probe.Probe(context.Background(), c.url, certs, key, opts)
	if errors.Is(err, probe.ErrInvalid) {
		return nil, usageErr(fmt.Errorf("cannot probe %s with chain and key %s: %w", c.url, c.keyFile, err))
	}
	if res != nil {
		pr.Requested, pr.Chosen, pr.Status = res.Requested, res.Chosen, res.Status
		if names := res.AdvertisedNames(); names != nil {
			pr.Advertised = names
		}
		if res.Version != 0 {
			pr.TLSVersion = tlsVersion(res.Version)
		}
	}
	if err != nil {
		pr.Problem = plainErr(err)
		return pr, nil
	}
	pr.Accepted = true
	return pr, nil
}

func tlsVersion(v uint16) string {
	switch v {
	case 0x0304:
		return "TLS 1.3"
	case 0x0303:
		return "TLS 1.2"
	case 0x0302:
		return "TLS 1.1"
	case 0x0301:
		return "TLS 1.0"
	}
	return fmt.Sprintf("0x%04x", v)
}

func (c *verifyCmd) writeHuman(rep *verifyReport) {
	w := c.e.stdout
	fmt.Fprintf(w, "Chain: %s\n", rep.Path)
	if rep.Accepted {
		fmt.Fprintf(w, "Verdict: accepted by a receiver trusting %s\n", rep.Receiver)
		fmt.Fprintf(w, "Trust anchor: %s (SHA256: %s)\n", rep.Anchor.Name, rep.Anchor.SHA256)
	} else {
		fmt.Fprintf(w, "Verdict: refused by a receiver trusting %s\n", rep.Receiver)
		for _, p := range rep.Problems {
			fmt.Fprintf(w, "  - %s\n", p)
		}
	}
	if pr := rep.Probe; pr != nil {
		fmt.Fprintf(w, "\nProbe of %s:\n", pr.URL)
		if pr.Requested {
			fmt.Fprintln(w, "  The server asks for a client certificate")
			if len(pr.Advertised) == 0 {
				fmt.Fprintln(w, "  Advertised CA names: none (a Java client presents any key entry)")
			} else {
				fmt.Fprintln(w, "  Advertised CA names:")
				for _, n := range pr.Advertised {
					fmt.Fprintf(w, "    %s\n", n)
				}
			}
			if pr.Chosen {
				fmt.Fprintln(w, "  A Java client would present this chain")
			} else {
				fmt.Fprintln(w, "  A Java client would NOT present this chain: no issuer of it is advertised")
			}
		}
		if pr.TLSVersion != "" {
			fmt.Fprintf(w, "  Handshake: %s\n", pr.TLSVersion)
		}
		if pr.Status != 0 {
			fmt.Fprintf(w, "  HTTP status: %d\n", pr.Status)
		}
		if pr.Accepted {
			fmt.Fprintln(w, "  Verdict: accepted by the receiver")
		} else {
			fmt.Fprintf(w, "  Verdict: refused: %s\n", pr.Problem)
		}
	}
}

// readPEMKey reads a private key from a PEM file: PKCS#8, PKCS#1 (RSA)
// or SEC 1 (EC), unencrypted.
func readPEMKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fileErr("key file", path, err)
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, usageErr(fmt.Errorf("key file %s holds no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY); an encrypted key must be decrypted first (openssl pkey -in KEY -out PLAIN.key)", path))
		}
		var k any
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, usageErr(fmt.Errorf("key file %s holds an encrypted key: decrypt it first (openssl pkey -in %s -out PLAIN.key) and keep the result 0600", path, path))
		default:
			continue
		}
		if err != nil {
			return nil, usageErr(fmt.Errorf("key file %s: the %s block cannot be read: %w", path, b.Type, err))
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, usageErr(fmt.Errorf("key file %s holds a key that cannot sign", path))
		}
		return s, nil
	}
}
