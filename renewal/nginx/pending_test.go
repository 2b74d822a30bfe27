package nginx

import (
	"context"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certroll/certroll/renewal/internal/trustfiles"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNginxPendingReload: the process was killed after it wrote the
// bundle and before the reload (simulated: the new root appended by hand,
// the marker created). The next TrustRoot finds nothing to change, yet
// reloads because of the marker, and nginx advertises both roots.
func TestNginxPendingReload(t *testing.T) {
	l := startNginx(t)
	ctx := context.Background()
	caPath := filepath.Join(l.dir, "client-ca.pem")
	f, err := os.OpenFile(caPath, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: l.newCA.cert.Raw}))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	marker := caPath + trustfiles.PendingSuffix
	require.NoError(t, os.WriteFile(marker, nil, 0o644))
	require.Equal(t, []string{l.oldCA.cert.Subject.String()}, subjects(t, l), "nginx has not read the edit")

	require.NoError(t, l.rcv.TrustRoot(ctx, l.newCA.cert))
	assert.ElementsMatch(t, []string{l.oldCA.cert.Subject.String(), l.newCA.cert.Subject.String()}, subjects(t, l),
		"the pending reload was made")
	assert.NoFileExists(t, marker, "the marker goes after the reload")

	// a call with nothing to change and no marker runs nothing
	pidBefore, _ := os.ReadFile(filepath.Join(l.dir, "nginx.pid"))
	require.NoError(t, l.rcv.TrustRoot(ctx, l.newCA.cert))
	pidAfter, _ := os.ReadFile(filepath.Join(l.dir, "nginx.pid"))
	assert.Equal(t, pidBefore, pidAfter)
	assert.NoFileExists(t, marker)
}

// TestNginxReloadWaitFails: the reload is sent but its wait fails (the
// wrong server name). The files are restored and nginx is reloaded again
// with them; that wait fails too, so the error says the state is unknown
// (not "restored"), and the marker stays. Fixed, the next call goes through.
func TestNginxReloadWaitFails(t *testing.T) {
	l := startNginx(t)
	ctx := context.Background()
	caPath := filepath.Join(l.dir, "client-ca.pem")
	caBefore, err := os.ReadFile(caPath)
	require.NoError(t, err)
	l.rcv.cfg.ServerName = "wrong.example"
	l.rcv.cfg.Timeout = 2 * time.Second

	err = l.rcv.TrustRoot(ctx, l.newCA.cert)
	var us *UnknownStateError
	require.ErrorAs(t, err, &us, "got %v", err)
	var rb *RolledBackError
	assert.False(t, errorsAs(err, &rb), "not reported as rolled back: %v", err)
	assert.ErrorContains(t, err, "state is unknown")
	caAfter, _ := os.ReadFile(caPath)
	assert.Equal(t, caBefore, caAfter, "the bundle is restored")
	marker := caPath + trustfiles.PendingSuffix
	assert.FileExists(t, marker, "the marker stays")
	// nginx was reloaded with the restored bundle: it advertises the old
	// root only (poll: the workers of the last reload may still start)
	want := []string{l.oldCA.cert.Subject.String()}
	deadline := time.Now().Add(30 * time.Second)
	got := subjects(t, l)
	for !assert.ObjectsAreEqual(want, got) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		got = subjects(t, l)
	}
	assert.Equal(t, want, got, "nginx runs the files as they are")

	l.rcv.cfg.ServerName = ""
	l.rcv.cfg.Timeout = 30 * time.Second
	require.NoError(t, l.rcv.TrustRoot(ctx, l.newCA.cert))
	assert.ElementsMatch(t, []string{l.oldCA.cert.Subject.String(), l.newCA.cert.Subject.String()}, subjects(t, l))
	assert.NoFileExists(t, marker)
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
