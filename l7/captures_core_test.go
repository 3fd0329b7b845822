//go:build captures

package l7

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"golang.org/x/net/http2"
	//lint:ignore SA1019 net/http has no server of the h2c Upgrade (see coreServe)
	"golang.org/x/net/http2/h2c"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"bulkhead.dev/bulkhead/testenv"
)

// The capture specs of the core protocols (HTTP/1, HTTP/2 and gRPC, TLS,
// DNS, QUIC): real clients (curl, openssl s_client, dig, grpc-go, quic-go)
// against real servers (Debian's nginx and dnsmasq, Go's net/http with h2c,
// openssl s_server, miekg/dns, grpc-go, quic-go). captures_make_test.go runs
// them (TestMakeCapturesCore, build tag "captures", root; the packages of
// scripts/install-capture-deps.sh installed).

// coreServe serves handler on :8080 in s over HTTP/1.1 and unencrypted
// HTTP/2 with prior knowledge, and with upgrade also over h2c by Upgrade.
func coreServe(t *testing.T, s *testenv.Container, handler http.Handler, upgrade bool) {
	t.Helper()
	l, err := s.Listen("tcp", ":8080")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, Protocols: new(http.Protocols)}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	if upgrade {
		// net/http serves h2c with prior knowledge only; the Upgrade dance
		// needs x/net's h2c handler (deprecated, but the only server of it
		// in Go).
		srv.Handler = h2c.NewHandler(handler, &http2.Server{}) //lint:ignore SA1019 see above
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}

func coreEcho(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "%s %s\n", r.Method, r.URL.Path)
}

// coreCert returns a self-signed certificate for names and writes it and
// its key as PEM files under dir.
func coreCert(t *testing.T, dir string, names ...string) tls.Certificate {
	t.Helper()
	cert, certPEM, keyPEM, err := selfSigned(names...)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert
}

var coreZone = testenv.Zone{
	"api.example.        60 IN A     198.18.0.11",
	"api.example.        60 IN AAAA  2001:2:0:1::b",
	"www.api.example.   300 IN CNAME api.example.",
	"api.example.        60 IN TXT   \"v=bulkhead\"",
}

func coreCaptureSpecs() []captureSpec {
	httpServer := func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
		coreServe(t, s, http.HandlerFunc(coreEcho), false)
	}
	quicSpec := func(name string, v quic.Version) captureSpec {
		return captureSpec{
			name: name, filter: "udp port 4433",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				cert := coreCert(t, dir, "quic.example")
				pc, err := s.ListenPacket("udp", ":4433")
				if err != nil {
					t.Fatal(err)
				}
				l, err := quic.Listen(pc, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h3"}},
					&quic.Config{Versions: []quic.Version{v}})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { l.Close(); pc.Close() })
				go func() {
					for {
						conn, err := l.Accept(context.Background())
						if err != nil {
							return
						}
						go func() {
							st, err := conn.AcceptStream(context.Background())
							if err != nil {
								return
							}
							_, _ = io.Copy(st, st)
							st.Close()
						}()
					}
				}()
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				pc, err := c.ListenPacket("udp", ":0")
				if err != nil {
					t.Fatal(err)
				}
				defer pc.Close()
				conn, err := quic.Dial(ctx, pc, &net.UDPAddr{IP: ip.AsSlice(), Port: 4433},
					&tls.Config{ServerName: "quic.example", InsecureSkipVerify: true, NextProtos: []string{"h3"}},
					&quic.Config{Versions: []quic.Version{v}})
				if err != nil {
					t.Fatal(err)
				}
				st, err := conn.OpenStreamSync(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := st.Write([]byte("hello over quic")); err != nil {
					t.Fatal(err)
				}
				st.Close()
				if _, err := io.ReadAll(st); err != nil {
					t.Fatal(err)
				}
				_ = conn.CloseWithError(0, "done")
			},
		}
	}
	return []captureSpec{
		{
			name: "http-keepalive", filter: "tcp port 8080",
			server: httpServer,
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				base := "http://" + ip.String() + ":8080"
				// One connection, three requests; the Host header in odd
				// case with a port, and a path with a dot segment.
				captureRun(t, ctx, c, false, "curl", "-sS", "--path-as-is", "-A", "bulkhead-capture/1.0",
					"-H", "hOsT: API.Example:8080",
					base+"/api/v1/users?id=7", base+"/static/../api/v1/orders", base+"/health")
				// A POST with a body, then a GET on the same connection.
				captureRun(t, ctx, c, false, "curl", "-sS", "-A", "bulkhead-capture/1.0",
					"-d", "name=alice&role=admin", base+"/api/v1/users", "--next", base+"/api/v1/users/alice")
			},
		},
		{
			name: "http10", filter: "tcp port 8080",
			server: httpServer,
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				captureRun(t, ctx, c, false, "curl", "-sS", "--http1.0", "http://"+ip.String()+":8080/legacy/index.html")
			},
		},
		{
			name: "http2-prior-knowledge", filter: "tcp port 8080",
			server: httpServer,
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				base := "http://" + ip.String() + ":8080"
				// curl 7.88 fails on a second URL over one prior-knowledge
				// connection: one request with curl, several with Go's
				// h2c client on one connection.
				captureRun(t, ctx, c, false, "curl", "-sS", "--http2-prior-knowledge", base+"/v2/items")
				tr := &http.Transport{Protocols: new(http.Protocols), DialContext: c.DialContext}
				tr.Protocols.SetUnencryptedHTTP2(true)
				defer tr.CloseIdleConnections()
				client := &http.Client{Transport: tr}
				for _, r := range []struct{ method, path, body string }{
					{"GET", "/v2/items/42", ""}, {"POST", "/v2/items", `{"name":"x"}`}, {"DELETE", "/v2/items/42", ""},
				} {
					req, err := http.NewRequestWithContext(ctx, r.method, base+r.path, strings.NewReader(r.body))
					if err != nil {
						t.Fatal(err)
					}
					req.Host = "H2.Example:8080"
					resp, err := client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			},
		},
		{
			name: "h2c-upgrade", filter: "tcp port 8080",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				coreServe(t, s, http.HandlerFunc(coreEcho), true)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				base := "http://" + ip.String() + ":8080"
				captureRun(t, ctx, c, false, "curl", "-sS", "--http2", "-H", "Host: upgrade.example", base+"/first", base+"/second")
			},
		},
		{
			name: "grpc", filter: "tcp port 50051",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				l, err := s.Listen("tcp", ":50051")
				if err != nil {
					t.Fatal(err)
				}
				srv := grpc.NewServer()
				healthpb.RegisterHealthServer(srv, health.NewServer())
				go func() { _ = srv.Serve(l) }()
				t.Cleanup(srv.Stop)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				conn, err := grpc.NewClient(ip.String()+":50051",
					grpc.WithTransportCredentials(insecure.NewCredentials()),
					grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
						return c.DialContext(ctx, "tcp", addr)
					}))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				client := healthpb.NewHealthClient(conn)
				for _, svc := range []string{"", "orders.v1.Orders"} {
					_, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
					if err != nil && svc == "" {
						t.Fatal(err)
					}
				}
			},
		},
		{
			name: "tls-openssl", filter: "tcp port 8443",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				coreCert(t, dir, "api.example")
				cmd := s.Command(context.Background(), "openssl", "s_server", "-accept", "8443",
					"-cert", filepath.Join(dir, "cert.pem"), "-key", filepath.Join(dir, "key.pem"),
					"-alpn", "h2,http/1.1", "-www", "-quiet")
				if _, err := s.Start(cmd); err != nil {
					t.Fatal(err)
				}
				captureWaitTCP(t, s, 8443)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				cmd := c.Command(ctx, "openssl", "s_client", "-connect", ip.String()+":8443",
					"-servername", "api.example", "-alpn", "h2,http/1.1")
				cmd.Stdin = nil
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("openssl s_client: %v\n%s", err, out)
				}
			},
		},
		{
			name: "dns-udp", filter: "port 53",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				if _, err := s.ServeDNS(":53", coreZone); err != nil {
					t.Fatal(err)
				}
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				for _, q := range [][]string{{"api.example", "A"}, {"api.example", "AAAA"}, {"www.api.example", "A"}, {"missing.example", "A"}, {"api.example", "TXT"}} {
					captureRun(t, ctx, c, false, "dig", "+tries=1", "+time=2", "@"+ip.String(), q[0], q[1])
				}
			},
		},
		{
			name: "dns-tcp", filter: "port 53",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				if _, err := s.ServeDNS(":53", coreZone); err != nil {
					t.Fatal(err)
				}
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				// +keepopen sends both queries on one connection.
				captureRun(t, ctx, c, false, "dig", "+tcp", "+keepopen", "+tries=1", "+time=2", "@"+ip.String(),
					"api.example", "A", "www.api.example", "A")
			},
		},
		quicSpec("quic-v1", quic.Version1),
		quicSpec("quic-v2", quic.Version2),
		{
			// Debian's nginx, one process as root, serving a file and
			// a fixed answer; curl keeps one connection for several
			// requests.
			name: "http-nginx", filter: "tcp port 8080",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				appsWrite(t, dir, "www/static/app.js", "console.log('bulkhead');\n", 0o644)
				conf := appsWrite(t, dir, "nginx.conf", `daemon off;
master_process off;
pid `+filepath.Join(dir, "nginx.pid")+`;
error_log stderr warn;
events {}
http {
	access_log off;
	client_body_temp_path `+filepath.Join(dir, "body")+`;
	proxy_temp_path `+filepath.Join(dir, "proxy")+`;
	fastcgi_temp_path `+filepath.Join(dir, "fastcgi")+`;
	uwsgi_temp_path `+filepath.Join(dir, "uwsgi")+`;
	scgi_temp_path `+filepath.Join(dir, "scgi")+`;
	server {
		listen 8080;
		server_name shop.example;
		root `+filepath.Join(dir, "www")+`;
		location /static/ {}
		location = /api/v1/orders { return 201 "created\n"; }
		location / { return 200 "ok\n"; }
	}
}
`, 0o644)
				appsStart(t, ctx, s, "nginx", "-p", dir, "-c", conf, "-e", "stderr")
				captureWaitTCP(t, s, 8080)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				base := "http://" + ip.String() + ":8080"
				captureRun(t, ctx, c, false, "curl", "-sS", "-A", "curl-capture/1.0", "-H", "Host: Shop.Example:8080",
					base+"/static/app.js", base+"/static/missing.css", base+"/api/v1/users?page=2",
					"--next", "-sS", "-A", "curl-capture/1.0", "-H", "Host: Shop.Example:8080",
					"-d", `{"item":42}`, "-H", "Content-Type: application/json", base+"/api/v1/orders")
			},
		},
		{
			// Debian's dnsmasq as an authoritative-style server of local
			// records (no upstream); dig over UDP, then over TCP.
			name: "dns-dnsmasq", filter: "port 53",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				appsStart(t, ctx, s, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
					"--interface=eth0", "--bind-interfaces", "--user=root", "--pid-file="+filepath.Join(dir, "pid"),
					"--local=/example/", "--host-record=api.example,198.18.0.11,2001:2:0:1::b",
					"--cname=www.api.example,api.example", "--txt-record=api.example,v=bulkhead", "--local-ttl=60")
				captureWaitTCP(t, s, 53)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				for _, q := range [][]string{{"api.example", "A"}, {"api.example", "AAAA"}, {"www.api.example", "A"}, {"missing.example", "A"}, {"api.example", "TXT"}} {
					captureRun(t, ctx, c, false, "dig", "+tries=1", "+time=2", "@"+ip.String(), q[0], q[1])
				}
				captureRun(t, ctx, c, false, "dig", "+tcp", "+tries=1", "+time=2", "@"+ip.String(), "www.api.example", "AAAA")
			},
		},
	}
}
