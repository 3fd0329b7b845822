package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"bulkhead.dev/bulkhead/testenv"
)

// Result is one normal request and what came of it.
type Result struct {
	// What names the request: "frontend → POST /api/orders".
	What string
	// OK is true when the answer had the expected status.
	OK bool
	// Status is the HTTP status (0 when no answer came).
	Status int
	// Body is the start of the answer's body, or the error.
	Detail string
	Took   time.Duration
}

func (r Result) String() string {
	state := "FAILED"
	if r.OK {
		state = "ok"
	}
	return fmt.Sprintf("%s → %s (%s, %v)", r.What, r.Detail, state, r.Took.Round(time.Millisecond))
}

// frontendClient returns an HTTP client in the frontend container. With
// keepAlive false, every request opens its own connection, as many
// independent browser sessions do.
func frontendClient(fe *testenv.Container, keepAlive bool) *http.Client {
	tr := &http.Transport{
		DialContext:       fe.DialContext,
		DisableKeepAlives: !keepAlive,
		IdleConnTimeout:   30 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 8 * time.Second}
}

// do makes one request from the frontend and checks its status.
func (w *World) do(ctx context.Context, c *http.Client, method, path string, want int) Result {
	r := Result{What: "frontend → " + method + " " + path}
	req, err := http.NewRequestWithContext(ctx, method, w.apiURL(path), nil)
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	start := time.Now()
	resp, err := c.Do(req)
	r.Took = time.Since(start)
	if err != nil {
		r.Detail = describeErr(err)
		return r
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	r.Status = resp.StatusCode
	r.OK = resp.StatusCode == want
	r.Detail = resp.Status
	if b := strings.TrimSpace(string(body)); b != "" {
		r.Detail += " " + b
	}
	return r
}

// Check makes one normal order from the frontend: POST /api/orders, for
// which the api numbers the order in redis (INCR), resolves
// payments.example.com through dns, charges the order over HTTPS, and
// stores it (SET). It exercises every normal path of the shop at once.
func (w *World) Check(ctx context.Context) Result {
	c := frontendClient(w.Frontend, false)
	defer c.CloseIdleConnections()
	return w.do(ctx, c, http.MethodPost, "/api/orders", http.StatusCreated)
}

// Learn makes the shop's normal traffic: rounds of requests from the
// frontend over several paths, each on its own connection, and through
// them the api's redis commands, DNS queries and payments calls. It returns
// every request's result.
func (w *World) Learn(ctx context.Context, rounds int) []Result {
	c := frontendClient(w.Frontend, false)
	defer c.CloseIdleConnections()
	var out []Result
	for i := 0; i < rounds; i++ {
		created := w.do(ctx, c, http.MethodPost, "/api/orders", http.StatusCreated)
		out = append(out, created)
		id := orderID(created)
		out = append(out,
			w.do(ctx, c, http.MethodGet, "/api/orders", http.StatusOK),
			w.do(ctx, c, http.MethodGet, "/api/orders/"+id, http.StatusOK),
			w.do(ctx, c, http.MethodGet, fmt.Sprintf("/api/users/%d", 42+i), http.StatusOK),
		)
	}
	return out
}

// orderID extracts the order id from a POST /api/orders answer ("0" when
// there is none, which then fails the GET that uses it).
func orderID(r Result) string {
	_, body, ok := strings.Cut(r.Detail, " Created ")
	if !ok {
		return "0"
	}
	var o struct {
		ID string `json:"id"`
	}
	if json.Unmarshal([]byte(body), &o) != nil || o.ID == "" {
		return "0"
	}
	return o.ID
}
