//go:build captures

package capture

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"bulkhead.dev/bulkhead/internal/benchkit"
	"bulkhead.dev/bulkhead/testenv"
)

// The large capture that "make bench-l7" measures analyze on (with
// ndpiReader on the same file): real mixed traffic between two testenv
// containers, recorded by tcpdump. It is made into a temporary directory,
// never committed. The maker is compiled only with the build tag
// "captures" (so that "go test ./..." does not list it) and needs root:
//
//	go test -tags captures ./l7/capture -run TestMakeBenchCapture -bench-capture=/tmp/mixed.pcap -v
var benchCapture = flag.String("bench-capture", "", "write the large mixed-traffic capture of bench-l7 to this path (root, testenv)")

// Traffic of the bench capture (about 230 MB in all).
const (
	benchHTTPDownloads = 150  // 1 MiB HTTP downloads over 4 keep-alive connections
	benchHTTPSmall     = 4000 // small HTTP requests over 20 keep-alive connections
	benchHTTPConns     = 1500 // connections with one request each
	benchTLSDownloads  = 60   // 1 MiB HTTPS downloads over 2 connections
	benchTLSConns      = 600  // HTTPS connections with one request each
	benchDNSQueries    = 6000 // UDP DNS queries
	benchRedisRequests = 30000
)

func TestMakeBenchCapture(t *testing.T) {
	testenv.RequireRoot(t)
	if *benchCapture == "" {
		t.Fatal("TestMakeBenchCapture needs -bench-capture=PATH: where to write the capture")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	node := testenv.New(t, testenv.Config{Containers: []string{"client", "server"}})
	cl, sv := node.Container("client"), node.Container("server")
	ip := sv.IP4.String()

	// Servers: HTTP on 8080, HTTPS on 8443, DNS on 53, Redis on 6379.
	mux := http.NewServeMux()
	blob := make([]byte, 1<<20)
	mux.HandleFunc("/blob", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(blob) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "ok %s\n", r.URL.Path) })
	if _, err := sv.ServeHTTP(":8080", mux); err != nil {
		t.Fatal(err)
	}
	tl, err := sv.Listen("tcp", ":8443")
	if err != nil {
		t.Fatal(err)
	}
	tlsSrv := &http.Server{Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{benchCert(t)}}}
	go func() { _ = tlsSrv.ServeTLS(tl, "", "") }()
	t.Cleanup(func() { _ = tlsSrv.Close() })
	var zone testenv.Zone
	for i := 0; i < 100; i++ {
		zone = append(zone, fmt.Sprintf("host%d.bench.example. 60 IN A 198.19.0.%d", i, i))
	}
	if _, err := sv.ServeDNS(":53", zone); err != nil {
		t.Fatal(err)
	}
	if _, err := benchkit.StartRedis(sv.Host, 6379, ""); err != nil {
		t.Fatal(err)
	}
	if err := benchkit.WaitListening(sv.Host, net.JoinHostPort(ip, "6379"), 10*time.Second); err != nil {
		t.Fatal(err)
	}

	// tcpdump with a large kernel buffer, so that it keeps up.
	tcpdump := exec.Command("tcpdump", "-i", "eth0", "-w", *benchCapture, "-s", "0", "-n", "-B", "262144", "-Z", "root")
	var tcpdumpLog testenv.Buffer
	tcpdump.Stderr = &tcpdumpLog
	proc, err := sv.Start(tcpdump)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(tcpdumpLog.String(), "listening on"); {
		if time.Now().After(deadline) {
			t.Fatalf("tcpdump did not start: %s", tcpdumpLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	run := func(name string, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	get := func(c *http.Client, url string) error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err
	}
	keepAlive := func(n int, tlsConf *tls.Config) *http.Client {
		tr := &http.Transport{MaxConnsPerHost: n, MaxIdleConnsPerHost: n, TLSClientConfig: tlsConf,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return cl.DialContext(ctx, network, addr)
			}}
		return &http.Client{Transport: tr}
	}
	oneShot := func(tlsConf *tls.Config) *http.Client {
		tr := &http.Transport{DisableKeepAlives: true, TLSClientConfig: tlsConf,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return cl.DialContext(ctx, network, addr)
			}}
		return &http.Client{Transport: tr}
	}
	insecure := &tls.Config{InsecureSkipVerify: true, ServerName: "bench.example"}
	run("http downloads", func() error {
		c := keepAlive(4, nil)
		for i := 0; i < benchHTTPDownloads; i++ {
			if err := get(c, "http://"+ip+":8080/blob"); err != nil {
				return err
			}
		}
		return nil
	})
	run("http small", func() error {
		c := keepAlive(20, nil)
		for i := 0; i < benchHTTPSmall; i++ {
			if err := get(c, "http://"+ip+":8080/api/v1/items/"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
		return nil
	})
	run("http connections", func() error {
		c := oneShot(nil)
		for i := 0; i < benchHTTPConns; i++ {
			if err := get(c, "http://"+ip+":8080/health"); err != nil {
				return err
			}
		}
		return nil
	})
	run("https downloads", func() error {
		c := keepAlive(2, insecure)
		for i := 0; i < benchTLSDownloads; i++ {
			if err := get(c, "https://"+ip+":8443/blob"); err != nil {
				return err
			}
		}
		return nil
	})
	run("https connections", func() error {
		c := oneShot(insecure)
		for i := 0; i < benchTLSConns; i++ {
			if err := get(c, "https://"+ip+":8443/"); err != nil {
				return err
			}
		}
		return nil
	})
	run("dns", func() error {
		for i := 0; i < benchDNSQueries; i++ {
			conn, err := cl.Dial("udp", ip+":53")
			if err != nil {
				return err
			}
			m := new(dns.Msg)
			m.SetQuestion(fmt.Sprintf("host%d.bench.example.", i%120), dns.TypeA)
			co := &dns.Conn{Conn: conn}
			_ = co.SetDeadline(time.Now().Add(2 * time.Second))
			if err := co.WriteMsg(m); err == nil {
				_, _ = co.ReadMsg()
			}
			conn.Close()
		}
		return nil
	})
	run("redis", func() error {
		_, err := cl.Run(ctx, "redis-benchmark", "-h", ip, "-n", strconv.Itoa(benchRedisRequests), "-c", "10", "-t", "set,get,lpush", "-q")
		return err
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := proc.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-proc.Done()
	t.Logf("tcpdump: %s", strings.TrimSpace(tcpdumpLog.String()))
	st, err := os.Stat(*benchCapture)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d MB)", *benchCapture, st.Size()>>20)
}

func benchCert(t *testing.T) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench.example"},
		DNSNames: []string{"bench.example"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
