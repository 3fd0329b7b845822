//go:build captures

package l7

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/internal/benchkit"
	"bulkhead.dev/bulkhead/testenv"
)

// The capture makers record real clients talking to real servers in two
// testenv containers (tcpdump on the server's interface) into
// testdata/captures/NAME.pcap. They are compiled only with the build tag
// "captures", so that "go test ./..." neither runs nor lists them, and they
// need root and the programs of scripts/install-capture-deps.sh:
//
//	sudo ./scripts/install-capture-deps.sh
//	sudo go test -tags captures ./l7 -run 'TestMakeCaptures' -v      # every capture
//	sudo go test -tags captures ./l7 -run 'TestMakeCaptures/kafka' -v  # one capture
//	go test ./l7 -run TestCaptureGoldens -update                      # then review the goldens
//
// "make captures" does both steps (CAPTURES=REGEXP to select captures).
// Stored captures are committed; CI does not regenerate them. Each spec
// captures only the ports of its protocol so that files stay small.
// captures_core_test.go holds the specs of HTTP, HTTP/2, gRPC, TLS, DNS and
// QUIC; captures_apps_test.go those of the other protocols.

// captureSpec describes one capture.
type captureSpec struct {
	name   string
	filter string // tcpdump filter
	// server starts the server in s, using dir for its files, and returns
	// once it accepts connections (or after a short pause for UDP).
	server func(t *testing.T, ctx context.Context, s *testenv.Container, dir string)
	// client runs the client in c against the server at ip.
	client func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string)
}

func TestMakeCapturesCore(t *testing.T) { makeCaptures(t, coreCaptureSpecs(), time.Minute) }

func TestMakeCapturesApps(t *testing.T) { makeCaptures(t, appsCaptureSpecs(), 2*time.Minute) }

// makeCaptures makes each capture of specs in a subtest of its name, each
// bounded by timeout.
func makeCaptures(t *testing.T, specs []captureSpec, timeout time.Duration) {
	testenv.RequireRoot(t)
	for _, spec := range specs {
		t.Run(spec.name, func(t *testing.T) { makeCapture(t, spec, timeout) })
	}
}

func makeCapture(t *testing.T, spec captureSpec, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	node := testenv.New(t, testenv.Config{Containers: []string{"client", "server"}})
	cl, sv := node.Container("client"), node.Container("server")
	// Servers that drop privileges (Dovecot, PostgreSQL) must reach dir.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out, err := filepath.Abs(filepath.Join("testdata", "captures", spec.name+".pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	spec.server(t, ctx, sv, dir)
	capture, err := sv.Capture("eth0", out, spec.filter)
	if err != nil {
		t.Fatal(err)
	}
	spec.client(t, ctx, cl, sv.IP4, dir)
	if err := capture.Stop(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() <= 24 || st.Size() > 200<<10 {
		t.Fatalf("%s: %d bytes, want a non-empty capture of at most 200 KiB", out, st.Size())
	}
	t.Logf("wrote %s (%d bytes)", out, st.Size())
}

// captureRun runs a client program in h and fails the test on error unless
// mayFail. It returns the program's output.
func captureRun(t *testing.T, ctx context.Context, h *testenv.Container, mayFail bool, name string, args ...string) string {
	t.Helper()
	out, err := h.Run(ctx, name, args...)
	if err != nil && !mayFail {
		t.Fatal(err)
	}
	return string(out)
}

// captureWaitTCP waits until the server in s accepts connections on port
// (at most a minute).
func captureWaitTCP(t *testing.T, s *testenv.Container, port int) {
	t.Helper()
	addr := net.JoinHostPort(s.IP4.String(), strconv.Itoa(port))
	if err := benchkit.WaitListening(s.Host, addr, time.Minute); err != nil {
		t.Fatalf("server never accepted: %v", err)
	}
}
