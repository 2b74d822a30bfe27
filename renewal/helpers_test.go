package renewal

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"
)

// fp returns a fixed SHA-256 fingerprint, in the normalised form, derived
// from a name, so that tests and golden files use realistic values that
// never change.
func fp(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// testParams returns parameters valid for both sequences.
func testParams(t testing.TB) Params {
	t.Helper()
	return Params{
		Alias:              "tenant-client",
		Keystore:           "/srv/tenant/client.p12",
		KeystoreFormat:     "PKCS12",
		Truststore:         "/etc/receiver/truststore.jks",
		Nodes:              []string{"node-a", "node-b", "node-c"},
		OldFingerprint:     fp("old client certificate"),
		NewFingerprint:     fp("new client certificate"),
		OldRootSubject:     "CN=Old Root CA,O=Example Corp",
		NewRootSubject:     "CN=New Root CA,O=Example Corp",
		OldRootFingerprint: fp("old root"),
		NewRootFingerprint: fp("new root"),
		Window: Window{
			Start:       time.Date(2026, 3, 7, 22, 0, 0, 0, time.UTC),
			End:         time.Date(2026, 3, 8, 2, 0, 0, 0, time.UTC),
			Description: "change CHG-1234",
		},
	}
}

// testProfile is the reference's example receiver, SAP Web Dispatcher in
// front of AS ABAP, as a profile.
func testProfile() *ReceiverProfile {
	return &ReceiverProfile{
		Proxy:         "SAP Web Dispatcher",
		ProxyFarm:     "WD-PROD",
		ProxyOperator: "SAP IT",
		Backend:       "AS ABAP",
		TrustList:     "Edit Certificate Trust List",
		TechnicalUser: "CPI_INBOUND",
	}
}

func mustBuild(t testing.TB, s Sequence, p Params) *Plan {
	t.Helper()
	plan, err := Build(s, p)
	if err != nil {
		t.Fatalf("Build(%v): %v", s, err)
	}
	return plan
}
