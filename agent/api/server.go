package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/modes"
)

// Options configure a Server.
type Options struct {
	Logger *slog.Logger
	// ShutdownTimeout bounds Close (default 5s).
	ShutdownTimeout time.Duration
	// WriteTimeout bounds every response except event streams (default 30s).
	WriteTimeout time.Duration
}

// Server serves the API on its listeners.
type Server struct {
	b    Backend
	ev   EventSource
	opts Options
	mux  *http.ServeMux
	hs   *http.Server

	base   context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	sockets []string // unix sockets to remove at Close
	addrs   []net.Addr
	closed  bool
	wg      sync.WaitGroup
}

// NewServer returns a server that asks b and reads events from ev (ev may
// be nil: /v1/events then answers 503).
func NewServer(b Backend, ev EventSource, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 5 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 30 * time.Second
	}
	s := &Server{b: b, ev: ev, opts: opts, mux: http.NewServeMux()}
	s.base, s.cancel = context.WithCancel(context.Background())
	s.routes()
	s.hs = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return s.base },
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Handler returns the API's handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", Healthz)
	s.mux.Handle("GET /readyz", ReadyzHandler(s.b.Ready))
	s.handle("GET /v1/status", func(r *http.Request) (any, error) { return s.b.Status(r.Context()) })
	s.handle("GET /v1/workloads", func(r *http.Request) (any, error) { return nonNil(s.b.Workloads(r.Context())) })
	s.handle("GET /v1/flows", s.flows)
	s.handle("GET /v1/graph", s.graph)
	s.handle("GET /v1/policy", func(r *http.Request) (any, error) { return s.b.Policy(r.Context()) })
	s.handle("POST /v1/policy/reload", func(r *http.Request) (any, error) { return s.b.ReloadPolicy(r.Context()) })
	s.handle("GET /v1/modes", func(r *http.Request) (any, error) { return nonNil(s.b.Modes(r.Context())) })
	s.handle("PUT /v1/modes/{group}", s.setMode)
	s.mux.HandleFunc("GET /v1/events", s.events)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
}

// graph serves the learned graph; verdicts=1 adds the verdict counts.
func (s *Server) graph(r *http.Request) (any, error) {
	q := r.URL.Query()
	for k := range q {
		if k != "verdicts" {
			return nil, badRequest{fmt.Errorf("unknown parameter %q (known: verdicts)", k)}
		}
	}
	verdicts := false
	switch v := q.Get("verdicts"); v {
	case "", "0", "false":
	case "1", "true":
		verdicts = true
	default:
		return nil, badRequest{fmt.Errorf("verdicts=%q: want 1 or 0", v)}
	}
	return s.b.Graph(r.Context(), verdicts)
}

func nonNil[T any](v []T, err error) ([]T, error) {
	if v == nil && err == nil {
		v = []T{}
	}
	return v, err
}

// handle serves a JSON endpoint.
func (s *Server) handle(pattern string, fn func(r *http.Request) (any, error)) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		v, err := fn(r)
		if err != nil {
			status := statusOf(err)
			if status >= 500 {
				s.opts.Logger.Error("api: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeError(w, status, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

// badRequest marks errors in the request itself (400).
type badRequest struct{ error }

func statusOf(err error) int {
	var br badRequest
	switch {
	case errors.As(err, &br):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotFound), errors.Is(err, modes.ErrUnknownGroup):
		return http.StatusNotFound
	case errors.Is(err, ErrInvalid):
		return http.StatusUnprocessableEntity
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "api: encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(errorBody{Error: msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func (s *Server) flows(r *http.Request) (any, error) {
	f, err := ParseFlowFilter(r.URL.Query())
	if err != nil {
		return nil, badRequest{err}
	}
	fl, err := nonNil(s.b.Flows(r.Context(), f))
	if err == nil && len(fl) > f.Limit {
		fl = fl[:f.Limit]
	}
	return fl, err
}

// maxBody bounds request bodies.
const maxBody = 4096

func (s *Server) setMode(r *http.Request) (any, error) {
	group := r.PathValue("group")
	var req ModeRequest
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, badRequest{fmt.Errorf(`bad body: want {"mode":"learn|monitor|protect"}: %w`, err)}
	}
	m, err := modes.Parse(req.Mode)
	if err != nil {
		return nil, badRequest{err}
	}
	return s.b.SetMode(r.Context(), group, m)
}

// events serves recent events, or a stream with follow=1, as NDJSON.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	follow, limit, types, err := parseEventsQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if s.ev == nil {
		writeError(w, http.StatusServiceUnavailable, "events are not available")
		return
	}
	keep := func(e *events.Event) bool { return len(types) == 0 || types[e.Type] || e.Type == events.EventsLost }
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	if !follow {
		var out []events.Event
		for _, e := range s.ev.Recent(0) {
			if keep(&e) {
				out = append(out, e)
			}
		}
		if limit > 0 && len(out) > limit {
			out = out[len(out)-limit:]
		}
		for i := range out {
			enc.Encode(&out[i])
		}
		return
	}
	sub := s.ev.Subscribe(0)
	defer sub.Close()
	rc := http.NewResponseController(w)
	w.WriteHeader(http.StatusOK)
	rc.Flush()
	for {
		e, err := sub.Next(r.Context())
		if err != nil {
			return // client gone, server closing, or emitter closed
		}
		if !keep(&e) {
			continue
		}
		if err := enc.Encode(&e); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// Serve serves the API on l until Close. The server owns l.
func (s *Server) Serve(l net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		l.Close()
		return
	}
	s.addrs = append(s.addrs, l.Addr())
	s.wg.Go(func() {
		if err := s.hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.opts.Logger.Error("api: serve", "addr", l.Addr().String(), "err", err)
		}
	})
}

// ListenAndServeUnix listens on the unix socket path (see ListenUnix) and
// serves on it; Close removes the socket.
func (s *Server) ListenAndServeUnix(path string) error {
	l, err := ListenUnix(path)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.sockets = append(s.sockets, path)
	s.mu.Unlock()
	s.Serve(l)
	return nil
}

// ListenAndServeTCP listens on addr ("host:port") and serves on it.
func (s *Server) ListenAndServeTCP(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("api: listen on %s: %w", addr, err)
	}
	s.Serve(l)
	return nil
}

// Addrs returns the addresses served.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.addrs...)
}

// Close ends event streams, shuts the server down (waiting up to the
// shutdown timeout for requests in flight) and removes its unix sockets.
// Safe to call twice.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	sockets := s.sockets
	s.mu.Unlock()
	s.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	err := s.hs.Shutdown(ctx)
	if err != nil {
		s.hs.Close()
	}
	s.wg.Wait()
	for _, p := range sockets {
		if rerr := os.Remove(p); rerr != nil && !os.IsNotExist(rerr) {
			err = errors.Join(err, fmt.Errorf("api: remove %s: %w", p, rerr))
		}
	}
	if err != nil {
		return fmt.Errorf("api: close: %w", err)
	}
	return nil
}
