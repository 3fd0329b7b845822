package scenario

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"sync"
	"time"

	"bulkhead.dev/bulkhead/testenv"
)

// paymentsServer is the HTTPS service on the internet host. It listens on
// every address of the host: payments.example.com (PaymentsIP) and the
// unknown address (UnknownIP) alike, so that egress to the unknown address
// would succeed if nothing stopped it.
type paymentsServer struct {
	roots *x509.CertPool
	srv   *http.Server
	wg    sync.WaitGroup
	once  sync.Once
	err   error
}

// startPayments creates a certificate for payments.example.com (its own
// throw-away CA, trusted by the api) and serves POST /v1/charges on :443.
func startPayments(h *testenv.External) (*paymentsServer, error) {
	cert, roots, err := selfSigned(PaymentsName)
	if err != nil {
		return nil, fmt.Errorf("scenario: payments certificate: %w", err)
	}
	l, err := h.Listen("tcp", fmt.Sprintf(":%d", PaymentsPort))
	if err != nil {
		return nil, fmt.Errorf("scenario: payments server: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/charges", func(w http.ResponseWriter, r *http.Request) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		writeJSON(w, http.StatusCreated, map[string]string{"charge": "ch_" + hex.EncodeToString(b[:])})
	})
	// The egress attack writes plain text to this TLS port: keep the
	// server's complaint out of the demo's output.
	quiet := log.New(io.Discard, "", 0)
	p := &paymentsServer{roots: roots, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: quiet}}
	tl := tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = p.srv.Serve(tl)
	}()
	return p, nil
}

// Close stops the server. It is safe to call more than once.
func (p *paymentsServer) Close() error {
	p.once.Do(func() {
		if err := p.srv.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			p.err = fmt.Errorf("scenario: close payments server: %w", err)
		}
		p.wg.Wait()
	})
	return p.err
}

// selfSigned returns a certificate for name and a pool that trusts it.
func selfSigned(name string) (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Bulkhead demo"}},
		DNSNames:              []string{name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots, nil
}

func tlsClientConfig(roots *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
}
