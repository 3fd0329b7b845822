package scenario

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"bulkhead.dev/bulkhead/testenv"
)

// shop is the api container's HTTP server: a tiny order service whose
// handlers keep their data in redis on db and charge orders at
// payments.example.com, a name they resolve through the dns container.
type shop struct {
	mux      *http.ServeMux
	redis    *redisClient
	payments *http.Client

	mu sync.Mutex
	// received counts the request targets (path and query, as sent) that
	// reached the server, whatever the mux made of them.
	received map[string]int
}

func newShop(api *testenv.Container, redisAddr, dnsAddr string, roots *x509.CertPool) *shop {
	s := &shop{
		mux:      http.NewServeMux(),
		redis:    &redisClient{dial: api.DialContext, addr: redisAddr},
		payments: paymentsClient(api, dnsAddr, roots),
		received: map[string]int{},
	}
	s.mux.HandleFunc("GET /api/orders", s.lastOrder)
	s.mux.HandleFunc("POST /api/orders", s.newOrder)
	s.mux.HandleFunc("GET /api/orders/{id}", s.order)
	s.mux.HandleFunc("GET /api/users/{id}", s.user)
	return s
}

// paymentsClient returns the api's HTTP client for the payments service: it
// resolves names through the dns container and connects from the api
// container, one connection per charge (each charge resolves the name
// again, as a client honouring a short TTL does).
func paymentsClient(api *testenv.Container, dnsAddr string, roots *x509.CertPool) *http.Client {
	resolver := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return api.DialContext(ctx, network, dnsAddr)
		},
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		ips, err := resolver.LookupNetIP(ctx, "ip4", host)
		if err != nil {
			return nil, err
		}
		return api.DialContext(ctx, network, net.JoinHostPort(ips[0].String(), port))
	}
	tr := &http.Transport{DialContext: dial, DisableKeepAlives: true}
	tr.TLSClientConfig = tlsClientConfig(roots)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func (s *shop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.received[r.RequestURI]++
	s.mu.Unlock()
	s.mux.ServeHTTP(w, r)
}

// Received returns how many requests for target (as sent: path and query)
// reached the server.
func (s *shop) Received(target string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received[target]
}

func (s *shop) lastOrder(w http.ResponseWriter, r *http.Request) {
	rep, err := s.redis.Do(r.Context(), "GET", "orders:last")
	if err != nil {
		httpError(w, err)
		return
	}
	last := 0
	if !rep.Nil {
		last, _ = strconv.Atoi(rep.Str)
	}
	writeJSON(w, http.StatusOK, map[string]int{"last": last})
}

func (s *shop) order(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rep, err := s.redis.Do(r.Context(), "GET", "order:"+id)
	if err != nil {
		httpError(w, err)
		return
	}
	if rep.Nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no order " + id})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(rep.Str))
}

func (s *shop) user(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rep, err := s.redis.Do(r.Context(), "GET", "user:"+id)
	if err != nil {
		httpError(w, err)
		return
	}
	name := rep.Str
	if rep.Nil { // first visit: register the user
		name = "user-" + id
		if _, err := s.redis.Do(r.Context(), "SET", "user:"+id, name); err != nil {
			httpError(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id, "name": name})
}

// newOrder numbers the order (INCR), charges it at payments.example.com,
// stores it (SET) and remembers it as the last one (SET).
func (s *shop) newOrder(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	rep, err := s.redis.Do(ctx, "INCR", "orders:next")
	if err != nil {
		httpError(w, err)
		return
	}
	id := strconv.FormatInt(rep.Int, 10)
	charge, err := s.charge(ctx, id)
	if err != nil {
		httpError(w, fmt.Errorf("charge order %s: %w", id, err))
		return
	}
	body, _ := json.Marshal(map[string]string{"id": id, "charge": charge})
	if _, err := s.redis.Do(ctx, "SET", "order:"+id, string(body)); err != nil {
		httpError(w, err)
		return
	}
	if _, err := s.redis.Do(ctx, "SET", "orders:last", id); err != nil {
		httpError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write(body)
}

// charge asks the payments service to charge an order and returns the
// charge id.
func (s *shop) charge(ctx context.Context, order string) (string, error) {
	body, _ := json.Marshal(map[string]string{"order": order, "amount": "42.00"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+PaymentsName+"/v1/charges", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.payments.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Charge string `json:"charge"`
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("payments answered %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("payments: bad answer: %w", err)
	}
	return out.Charge, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, err error) {
	status := http.StatusBadGateway
	var re *RedisError
	if errors.As(err, &re) {
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
