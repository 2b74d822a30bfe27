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

// TestNginxLastSeenAfterRotation: the access log is rotated (renamed,
// nginx -s reopen) after the old client's request. The new log is empty:
// LastSeen gives when it began, not the zero time that would let the drain
// gate pass at once; after a request of another client, the new log's
// first line.
func TestNginxLastSeenAfterRotation(t *testing.T) {
	l := startNginx(t)
	ctx := context.Background()
	logPath := filepath.Join(l.dir, "certroll-clients.log")
	require.Equal(t, 200, l.status(t, l.oldClient))
	seen, err := l.rcv.LastSeen(ctx, l.oldClient.Leaf)
	require.NoError(t, err)
	require.False(t, seen.IsZero())

	require.NoError(t, os.Rename(logPath, logPath+".1"))
	rotated := time.Now().Truncate(time.Second)
	require.NoError(t, trustfiles.Run(ctx, "test", "reopen", l.rcv.args("-s", "reopen"), time.Minute))
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(logPath); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	seen, err = l.rcv.LastSeen(ctx, l.oldClient.Leaf)
	require.NoError(t, err)
	assert.False(t, seen.IsZero(), "an empty log after a rotation is not 'never seen'")
	assert.False(t, seen.Before(rotated), "possibly seen when the log began: got %v, rotated at %v", seen, rotated)

	require.Equal(t, 400, l.status(t, l.unpinned), "its root is not trusted")
	seen, err = l.rcv.LastSeen(ctx, l.oldClient.Leaf)
	require.NoError(t, err)
	assert.False(t, seen.Before(rotated), "not named in the new log: its first line's time, got %v", seen)
}
