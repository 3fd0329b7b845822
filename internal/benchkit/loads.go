package benchkit

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"bulkhead.dev/bulkhead/testenv"
)

// Load parameters of the application benchmarks, the same in every tool so
// that their tables compare.
const (
	WrkThreads     = 2
	WrkConnections = 16
	RedisClients   = 50
	// redisPerSecond sizes redis-benchmark's request count (-n) to about
	// the measurement's seconds on the test machine; the run is bounded by
	// count, and by a timeout.
	redisPerSecond = 25000
)

// HTTPBody is the answer of ServeHTTP: a small JSON document, like an API's.
var HTTPBody = []byte(`{"id":1234,"name":"widget","tags":["a","b","c"],"price":{"amount":1999,"currency":"EUR"},"stock":42,"updated":"2026-01-02T03:04:05Z"}` + "\n")

// Load is one load generator run's figures.
type Load struct {
	// RPS is requests per second; P50 and P99 are latency percentiles in µs.
	RPS, P50, P99 float64
	// Requests is how many requests the run made.
	Requests float64
	// CPU is the load generator's CPU time (`ip netns exec` execs the
	// program in place, so it is the program's).
	CPU time.Duration
}

// ServeHTTP serves HTTPBody to every request on port of h, from a Go
// HTTP/1.1 server (testenv's Host.ServeHTTP) that stops when h closes.
func ServeHTTP(h *testenv.Host, port int) error {
	_, err := h.ServeHTTP(fmt.Sprintf(":%d", port), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(HTTPBody)
	}))
	if err != nil {
		return fmt.Errorf("serve HTTP on %s port %d: %w", h.Name, port, err)
	}
	return nil
}

// StartRedis starts redis-server on port of h, without persistence; dir,
// when not empty, is its working directory.
func StartRedis(h *testenv.Host, port int, dir string) (*testenv.Process, error) {
	args := []string{"--port", strconv.Itoa(port), "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"}
	if dir != "" {
		args = append(args, "--dir", dir)
	}
	p, err := h.StartProgram(context.Background(), nil, nil, "redis-server", args...)
	if err != nil {
		return nil, fmt.Errorf("start redis-server on %s: %w", h.Name, err)
	}
	return p, nil
}

// WaitListening dials addr from h until something accepts, for at most
// timeout.
func WaitListening(h *testenv.Host, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := h.Dial("tcp", addr)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %v: %w", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wrkScript makes wrk print its summary as one JSON line (latencies in µs).
const wrkScript = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`

// WriteWrkScript writes the Lua script that Wrk needs into a new file in
// dir ("" for the default directory of temporary files) and returns its
// path; the caller removes it.
func WriteWrkScript(dir string) (string, error) {
	f, err := os.CreateTemp(dir, "bulkhead-wrk-*.lua")
	if err != nil {
		return "", fmt.Errorf("write wrk script: %w", err)
	}
	_, err = f.WriteString(wrkScript)
	if err = errors.Join(err, f.Close()); err != nil {
		return "", fmt.Errorf("write wrk script %s: %w", f.Name(), err)
	}
	return f.Name(), nil
}

// Wrk runs wrk on h against url for seconds (WrkThreads threads,
// WrkConnections keep-alive connections), with the script of
// WriteWrkScript. A run with errors fails.
func Wrk(h *testenv.Host, url, script string, seconds int) (Load, error) {
	args := []string{"-t", strconv.Itoa(WrkThreads), "-c", strconv.Itoa(WrkConnections), "-d", fmt.Sprintf("%ds", seconds), "-s", script, url}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds+20)*time.Second)
	defer cancel()
	cmd := h.Command(ctx, "wrk", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return Load{}, fmt.Errorf("wrk %v: %w: %s", args, err, out)
	}
	trimmed := bytes.TrimSpace(out)
	var r struct {
		Requests   float64 `json:"requests"`
		DurationUS float64 `json:"duration_us"`
		Errors     int     `json:"errors"`
		P50        float64 `json:"p50_us"`
		P99        float64 `json:"p99_us"`
	}
	if err := json.Unmarshal(trimmed[bytes.LastIndexByte(trimmed, '\n')+1:], &r); err != nil {
		return Load{}, fmt.Errorf("wrk output %q: %w", out, err)
	}
	if r.Errors > 0 || r.Requests == 0 || r.DurationUS == 0 {
		return Load{}, fmt.Errorf("wrk: %d errors, %v requests:\n%s", r.Errors, r.Requests, out)
	}
	return Load{RPS: r.Requests / (r.DurationUS / 1e6), P50: r.P50, P99: r.P99, Requests: r.Requests, CPU: CPUTime(cmd)}, nil
}

// RedisBenchmark runs redis-benchmark's GET and SET tests on h against the
// redis-server at host:port (RedisClients keep-alive clients, about seconds
// per test, bounded by request count and a timeout). CPU, in both results,
// is that of the whole run.
func RedisBenchmark(h *testenv.Host, host string, port, seconds int) (get, set Load, err error) {
	n := redisPerSecond * seconds
	args := []string{"-h", host, "-p", strconv.Itoa(port), "-c", strconv.Itoa(RedisClients),
		"-n", strconv.Itoa(n), "-r", "100000", "-t", "set,get", "--csv"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(8*seconds+30)*time.Second)
	defer cancel()
	cmd := h.Command(ctx, "redis-benchmark", args...)
	out, err := cmd.Output()
	if err != nil {
		return get, set, fmt.Errorf("redis-benchmark %v: %w: %s", args, err, out)
	}
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil || len(rows) < 3 {
		return get, set, fmt.Errorf("redis-benchmark output %q: %v", out, err)
	}
	columns := []string{"rps", "p50_latency_ms", "p99_latency_ms"}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, name := range columns {
		if _, ok := col[name]; !ok {
			return get, set, fmt.Errorf("redis-benchmark output %q: no %s column", out, name)
		}
	}
	found := map[string]Load{}
	for _, row := range rows[1:] {
		if len(row) != len(rows[0]) {
			continue
		}
		var v [3]float64
		for i, name := range columns {
			if v[i], err = strconv.ParseFloat(row[col[name]], 64); err != nil {
				return get, set, fmt.Errorf("redis-benchmark row %q: %w", row, err)
			}
		}
		found[strings.ToUpper(row[0])] = Load{RPS: v[0], P50: v[1] * 1000, P99: v[2] * 1000, Requests: float64(n), CPU: CPUTime(cmd)}
	}
	get, ok1 := found["GET"]
	set, ok2 := found["SET"]
	if !ok1 || !ok2 {
		return get, set, fmt.Errorf("redis-benchmark output %q: want GET and SET rows", out)
	}
	return get, set, nil
}

// CPUTime is the CPU time of a finished command (`ip netns exec` execs the
// program in place, so it is the program's).
func CPUTime(cmd *exec.Cmd) time.Duration {
	if cmd.ProcessState == nil {
		return 0
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}
