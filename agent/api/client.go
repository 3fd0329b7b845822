package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/modes"
)

// DefaultSocket is the agent's default API socket.
const DefaultSocket = "/run/bulkhead/bulkhead.sock"

// Client talks to the agent's API.
type Client struct {
	target string // what to name in errors: the socket path or the address
	base   string // URL prefix
	hc     *http.Client
}

// NewClient returns a client for addr: "" (the default socket), a socket
// path ("/run/bulkhead/bulkhead.sock", "unix:///path"), or a TCP address
// ("127.0.0.1:9448", "http://host:port").
func NewClient(addr string) (*Client, error) {
	if addr == "" {
		addr = DefaultSocket
	}
	switch {
	case strings.HasPrefix(addr, "unix://"), strings.HasPrefix(addr, "/"), strings.HasPrefix(addr, "."):
		path := strings.TrimPrefix(addr, "unix://")
		tr := &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			},
		}
		return &Client{target: path, base: "http://bulkhead", hc: &http.Client{Transport: tr}}, nil
	case strings.HasPrefix(addr, "http://"):
		u, err := url.Parse(addr)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("api: bad agent address %q", addr)
		}
		return &Client{target: u.Host, base: "http://" + u.Host, hc: &http.Client{}}, nil
	default:
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("api: bad agent address %q (want a socket path or host:port)", addr)
		}
		return &Client{target: addr, base: "http://" + addr, hc: &http.Client{}}, nil
	}
}

// Target returns the socket path or address the client talks to.
func (c *Client) Target() string { return c.target }

// Error is an error answer from the agent.
type Error struct {
	Status  int
	Message string
}

// Error says the agent refused: "agent: MESSAGE (HTTP STATUS)". Messages
// the agent's own packages wrote often start with "agent: " already; it is
// not said twice.
func (e *Error) Error() string {
	return fmt.Sprintf("agent: %s (HTTP %d)", strings.TrimPrefix(e.Message, "agent: "), e.Status)
}

// Is lets errors.Is match the API's sentinel errors by status.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrInvalid:
		return e.Status == http.StatusUnprocessableEntity
	case ErrUnavailable:
		return e.Status == http.StatusServiceUnavailable
	}
	return false
}

// unreachable turns a dial failure into the message people need.
func (c *Client) unreachable(err error) error {
	var op *net.OpError
	if (errors.As(err, &op) && op.Op == "dial") || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot reach the agent at %s: is it running? (%w)", c.target, err)
	}
	return fmt.Errorf("api: %s: %w", c.target, err)
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	resp, err := c.send(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		b, err := io.ReadAll(resp.Body)
		*raw = b
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("api: %s %s: bad answer: %w", method, path, err)
	}
	return nil
}

// send makes a request and returns the response of a 2xx answer.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, body any) (*http.Response, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("api: encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("api: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, c.unreachable(err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		var eb errorBody
		if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
			eb.Error = strings.TrimSpace(string(b))
		}
		return nil, &Error{Status: resp.StatusCode, Message: eb.Error}
	}
	return resp, nil
}

// Healthz checks the agent's liveness.
func (c *Client) Healthz(ctx context.Context) error {
	resp, err := c.send(ctx, http.MethodGet, "/healthz", nil, nil)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// Status returns the agent's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	return s, c.do(ctx, http.MethodGet, "/v1/status", nil, nil, &s)
}

// Workloads returns the local workloads.
func (c *Client) Workloads(ctx context.Context) ([]Workload, error) {
	var w []Workload
	return w, c.do(ctx, http.MethodGet, "/v1/workloads", nil, nil, &w)
}

// Flows returns recent flows matching f.
func (c *Client) Flows(ctx context.Context, f FlowFilter) ([]Flow, error) {
	var fl []Flow
	return fl, c.do(ctx, http.MethodGet, "/v1/flows", f.Query(), nil, &fl)
}

// Graph returns the learned graph as the agent's JSON (the policy package's
// graph format: decode it with that package).
func (c *Client) Graph(ctx context.Context) (json.RawMessage, error) {
	var g json.RawMessage
	return g, c.do(ctx, http.MethodGet, "/v1/graph", nil, nil, &g)
}

// GraphWithVerdicts returns the learned graph with the connection counts by
// verdict per edge: {"graph": GRAPH, "verdicts": [...]} (docs/graph.md).
func (c *Client) GraphWithVerdicts(ctx context.Context) (json.RawMessage, error) {
	var g json.RawMessage
	return g, c.do(ctx, http.MethodGet, "/v1/graph", url.Values{"verdicts": {"1"}}, nil, &g)
}

// Policy returns the policy in force with its sources.
func (c *Client) Policy(ctx context.Context) (Policy, error) {
	var p Policy
	return p, c.do(ctx, http.MethodGet, "/v1/policy", nil, nil, &p)
}

// ReloadPolicy asks the agent to reload its policy. A policy that fails
// validation returns an *Error with Status 422 (errors.Is(err, ErrInvalid))
// whose Message is the validation error; the old policy stays in force.
func (c *Client) ReloadPolicy(ctx context.Context) (PolicyInfo, error) {
	var p PolicyInfo
	return p, c.do(ctx, http.MethodPost, "/v1/policy/reload", nil, nil, &p)
}

// Modes returns every group's mode.
func (c *Client) Modes(ctx context.Context) ([]modes.Entry, error) {
	var m []modes.Entry
	return m, c.do(ctx, http.MethodGet, "/v1/modes", nil, nil, &m)
}

// SetMode sets a group's mode ("learn", "monitor" or "protect"). An unknown
// group returns an *Error with Status 404 (errors.Is(err, ErrNotFound)).
func (c *Client) SetMode(ctx context.Context, group, mode string) (modes.Entry, error) {
	var e modes.Entry
	return e, c.do(ctx, http.MethodPut, "/v1/modes/"+url.PathEscape(group), nil, ModeRequest{Mode: mode}, &e)
}

// EventsRequest selects events.
type EventsRequest struct {
	// Follow streams new events until ctx ends; otherwise the recent ones
	// are returned.
	Follow bool
	// Limit caps the recent events (0: the server's default, 100).
	Limit int
	// Types keeps only these types ("drop", "violation"…).
	Types []string
}

// Events calls fn for every event, in order, until the answer ends, ctx
// ends (Events then returns nil), or fn returns an error (returned).
func (c *Client) Events(ctx context.Context, r EventsRequest, fn func(events.Event) error) error {
	q := url.Values{}
	if r.Follow {
		q.Set("follow", "1")
	}
	if r.Limit > 0 {
		q.Set("limit", strconv.Itoa(r.Limit))
	}
	if len(r.Types) > 0 {
		q.Set("type", strings.Join(r.Types, ","))
	}
	resp, err := c.send(ctx, http.MethodGet, "/v1/events", q, nil)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e events.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("api: bad event line %q: %w", sc.Text(), err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("api: reading events: %w", err)
	}
	return nil
}
