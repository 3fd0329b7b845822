package promtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"bulkhead.dev/bulkhead/testenv"
)

// DefaultBinary is where Debian's prometheus package installs the server.
const DefaultBinary = "/usr/bin/prometheus"

// Config describes the Prometheus server to start.
type Config struct {
	// Binary is the prometheus executable (default: $BULKHEAD_PROMETHEUS, or
	// DefaultBinary).
	Binary string
	// Targets are the host:port addresses to scrape at /metrics.
	Targets []string
	// Job is the scrape job's name (default "bulkhead", the name the alert
	// rules expect).
	Job string
	// ScrapeInterval is the scrape and rule evaluation interval (default
	// 1 s).
	ScrapeInterval time.Duration
	// RuleFiles are loaded by the server, so that their rules are evaluated
	// (see Server.RuleHealth).
	RuleFiles []string
	// Dir holds the generated configuration and the storage; default: a new
	// temporary directory, removed by Close.
	Dir string
	// Logger receives what the harness does (default: discarded).
	Logger *slog.Logger

	// ListenAddress is the host:port the server listens on (default: a free
	// port on 127.0.0.1). Set it to an address of the namespace the server
	// runs in.
	ListenAddress string
	// Launch starts cmd and returns a function that waits for it to exit
	// (default: cmd.Start and cmd.Wait). Use it to run Prometheus inside a
	// network namespace, e.g. with testenv:
	//
	//	Launch: func(c *exec.Cmd) (func() error, error) {
	//		p, err := node.Node.Start(c) // node is a *testenv.Node
	//		if err != nil {
	//			return nil, err
	//		}
	//		return p.Wait, nil
	//	}
	Launch func(cmd *exec.Cmd) (wait func() error, err error)
	// Client is the HTTP client for the server's API (default: a plain
	// client); in a namespace, one that dials there (testenv's
	// Host.HTTPClient).
	Client *http.Client
}

// Server is a Prometheus process started by Start. Close stops it.
type Server struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:40123.
	URL string
	// Job is the scrape job's name.
	Job string

	cmd     *exec.Cmd
	client  *http.Client
	log     *slog.Logger
	dir     string
	tempDir bool
	output  *testenv.Buffer // the server's output, for error messages
	done    chan struct{}   // closed when the process has exited
	waitErr error
	targets int

	closeOnce sync.Once
	closeErr  error
}

// tail returns the last lines of the server's output.
func (s *Server) tail() string {
	out := strings.TrimSpace(s.output.String())
	lines := strings.Split(out, "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// config renders prometheus.yml.
func config(job string, targets []string, interval time.Duration, rules []string) ([]byte, error) {
	type staticConfig struct {
		Targets []string `json:"targets"`
	}
	type scrapeConfig struct {
		JobName        string         `json:"job_name"`
		ScrapeInterval string         `json:"scrape_interval"`
		ScrapeTimeout  string         `json:"scrape_timeout"`
		StaticConfigs  []staticConfig `json:"static_configs"`
	}
	cfg := struct {
		Global struct {
			ScrapeInterval     string `json:"scrape_interval"`
			EvaluationInterval string `json:"evaluation_interval"`
		} `json:"global"`
		RuleFiles     []string       `json:"rule_files,omitempty"`
		ScrapeConfigs []scrapeConfig `json:"scrape_configs"`
	}{RuleFiles: rules}
	iv := interval.String()
	cfg.Global.ScrapeInterval, cfg.Global.EvaluationInterval = iv, iv
	cfg.ScrapeConfigs = []scrapeConfig{{JobName: job, ScrapeInterval: iv, ScrapeTimeout: iv, StaticConfigs: []staticConfig{{Targets: targets}}}}
	// JSON is YAML: Prometheus reads it as is.
	return json.MarshalIndent(cfg, "", "  ")
}

// Start writes a configuration that scrapes cfg.Targets and starts
// Prometheus on a free loopback port, with its own storage, then waits
// until it is ready (at most until ctx ends). The caller must Close it.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if len(cfg.Targets) == 0 {
		return nil, errors.New("promtest: start prometheus: no target to scrape")
	}
	if cfg.Binary == "" {
		cfg.Binary = os.Getenv("BULKHEAD_PROMETHEUS")
	}
	if cfg.Binary == "" {
		cfg.Binary = DefaultBinary
	}
	if cfg.Job == "" {
		cfg.Job = "bulkhead"
	}
	if cfg.ScrapeInterval == 0 {
		cfg.ScrapeInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if _, err := exec.LookPath(cfg.Binary); err != nil {
		return nil, fmt.Errorf("promtest: prometheus binary %s: %w", cfg.Binary, err)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	s := &Server{Job: cfg.Job, client: cfg.Client, log: cfg.Logger, dir: cfg.Dir, output: &testenv.Buffer{}, done: make(chan struct{}), targets: len(cfg.Targets)}
	if s.dir == "" {
		d, err := os.MkdirTemp("", "bulkhead-prometheus-")
		if err != nil {
			return nil, fmt.Errorf("promtest: start prometheus: %w", err)
		}
		s.dir, s.tempDir = d, true
	}
	rules := make([]string, len(cfg.RuleFiles))
	for i, r := range cfg.RuleFiles {
		abs, err := filepath.Abs(r)
		if err != nil {
			s.removeDir()
			return nil, fmt.Errorf("promtest: rule file %s: %w", r, err)
		}
		rules[i] = abs
	}
	yml, err := config(cfg.Job, cfg.Targets, cfg.ScrapeInterval, rules)
	if err != nil {
		s.removeDir()
		return nil, fmt.Errorf("promtest: render prometheus config: %w", err)
	}
	cfgPath := filepath.Join(s.dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, yml, 0o644); err != nil {
		s.removeDir()
		return nil, fmt.Errorf("promtest: write prometheus config: %w", err)
	}
	addr := cfg.ListenAddress
	if addr == "" {
		port, err := freePort()
		if err != nil {
			s.removeDir()
			return nil, fmt.Errorf("promtest: find a free port: %w", err)
		}
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	s.URL = "http://" + addr
	s.cmd = exec.Command(cfg.Binary,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(s.dir, "data"),
		"--storage.tsdb.retention.time=1h",
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	// Its own process group, so that a signal to the test's group does not
	// reach it and Close stops it by PID; killed if the test process dies.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	launch := cfg.Launch
	if launch == nil {
		launch = func(c *exec.Cmd) (func() error, error) { return c.Wait, c.Start() }
	}
	wait, err := launch(s.cmd)
	if err != nil {
		s.removeDir()
		return nil, fmt.Errorf("promtest: start %s: %w", cfg.Binary, err)
	}
	s.log.Info("promtest: prometheus started", "pid", s.cmd.Process.Pid, "url", s.URL, "dir", s.dir, "targets", cfg.Targets)
	go func() {
		s.waitErr = wait()
		close(s.done)
	}()
	if err := s.waitReady(ctx); err != nil {
		closeErr := s.Close()
		return nil, errors.Join(err, closeErr)
	}
	return s, nil
}

func (s *Server) removeDir() {
	if s.tempDir {
		os.RemoveAll(s.dir)
	}
}

// waitReady polls /-/ready until it answers 200.
func (s *Server) waitReady(ctx context.Context) error {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
		if err != nil {
			return fmt.Errorf("promtest: wait for prometheus: %w", err)
		}
		resp, err := s.client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("promtest: prometheus exited before it was ready (%v):\n%s", s.waitErr, s.tail())
		case <-ctx.Done():
			return fmt.Errorf("promtest: prometheus at %s not ready: %w\n%s", s.URL, ctx.Err(), s.tail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close stops the server by its PID (SIGTERM, then SIGKILL after 10 s) and
// removes its temporary directory. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		defer s.removeDir()
		select {
		case <-s.done:
			return
		default:
		}
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			s.closeErr = fmt.Errorf("promtest: stop prometheus pid %d: %w", s.cmd.Process.Pid, err)
		}
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
		s.log.Info("promtest: prometheus stopped", "pid", s.cmd.Process.Pid)
	})
	return s.closeErr
}

// Sample is one element of a query result.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Result is the answer to an instant query.
type Result struct {
	Type    string // "vector" or "scalar"
	Samples []Sample
}

type apiResponse struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

// get calls the HTTP API and returns its data.
func (s *Server) get(ctx context.Context, path string, params url.Values) (json.RawMessage, error) {
	u := s.URL + path
	if params != nil {
		u += "?" + params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("status %d: %w: %.200s", resp.StatusCode, err, body)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	return r.Data, nil
}

// Query runs an instant query at the current time.
func (s *Server) Query(ctx context.Context, expr string) (Result, error) {
	data, err := s.get(ctx, "/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		return Result{}, fmt.Errorf("promtest: query %q: %w", expr, err)
	}
	var raw struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return Result{}, fmt.Errorf("promtest: query %q: decode: %w", expr, err)
	}
	res := Result{Type: raw.ResultType}
	switch raw.ResultType {
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(raw.Result, &vec); err != nil {
			return Result{}, fmt.Errorf("promtest: query %q: decode vector: %w", expr, err)
		}
		for _, v := range vec {
			f, err := sampleValue(v.Value[1])
			if err != nil {
				return Result{}, fmt.Errorf("promtest: query %q: %w", expr, err)
			}
			res.Samples = append(res.Samples, Sample{Labels: v.Metric, Value: f})
		}
	case "scalar":
		var sc [2]any
		if err := json.Unmarshal(raw.Result, &sc); err != nil {
			return Result{}, fmt.Errorf("promtest: query %q: decode scalar: %w", expr, err)
		}
		f, err := sampleValue(sc[1])
		if err != nil {
			return Result{}, fmt.Errorf("promtest: query %q: %w", expr, err)
		}
		res.Samples = []Sample{{Labels: map[string]string{}, Value: f}}
	default:
		return Result{}, fmt.Errorf("promtest: query %q: result type %q, want an instant vector or scalar", expr, raw.ResultType)
	}
	return res, nil
}

func sampleValue(v any) (float64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("sample value %v is not a string", v)
	}
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	}
	return strconv.ParseFloat(s, 64)
}

// WaitScrapes waits until Prometheus holds at least n successful scrapes
// of every target (up == 1 n times), so that rate() over a window of n
// scrape intervals has samples to work on. It returns ctx's error, with
// the targets' state, if that takes longer than ctx allows.
func (s *Server) WaitScrapes(ctx context.Context, n int) error {
	expr := fmt.Sprintf(`sum_over_time(up{job=%q}[5m]) >= %d`, s.Job, n)
	for {
		res, err := s.Query(ctx, expr)
		if err == nil && len(res.Samples) == s.targets {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("promtest: prometheus exited (%v):\n%s", s.waitErr, s.tail())
		case <-ctx.Done():
			up, _ := s.Query(context.Background(), fmt.Sprintf(`up{job=%q}`, s.Job))
			return fmt.Errorf("promtest: wait for %d scrapes of %d targets: %w (up: %v)\n%s", n, s.targets, ctx.Err(), up.Samples, s.tail())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// RuleHealth is the evaluation state of one loaded rule.
type RuleHealth struct {
	Name      string
	Health    string // "ok", "err" or "unknown" (not evaluated yet)
	LastError string
	Firing    bool // an alert with at least one active (pending or firing) instance
}

// RuleHealth returns the state of every rule the server loaded.
func (s *Server) RuleHealth(ctx context.Context) ([]RuleHealth, error) {
	data, err := s.get(ctx, "/api/v1/rules", nil)
	if err != nil {
		return nil, fmt.Errorf("promtest: rules: %w", err)
	}
	var d struct {
		Groups []struct {
			Rules []struct {
				Name      string            `json:"name"`
				Health    string            `json:"health"`
				LastError string            `json:"lastError"`
				Alerts    []json.RawMessage `json:"alerts"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("promtest: rules: decode: %w", err)
	}
	var out []RuleHealth
	for _, g := range d.Groups {
		for _, r := range g.Rules {
			out = append(out, RuleHealth{Name: r.Name, Health: r.Health, LastError: r.LastError, Firing: len(r.Alerts) > 0})
		}
	}
	return out, nil
}
