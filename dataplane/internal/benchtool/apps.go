package main

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
)

// Load parameters of the application benchmarks.
const (
	wrkThreads     = 2
	wrkConnections = 16
	redisClients   = 50
	// redisPerSecond sizes redis-benchmark's request count (-n) to about
	// -seconds per test on the test machine; the run is bounded by count,
	// and by a timeout.
	redisPerSecond = 25000
)

// httpBody is the server's answer: a small JSON document, like an API's.
var httpBody = []byte(`{"id":1234,"name":"widget","tags":["a","b","c"],"price":{"amount":1999,"currency":"EUR"},"stock":42,"updated":"2026-01-02T03:04:05Z"}` + "\n")

// serveHTTP runs a Go HTTP/1.1 server in the server container.
func (b *bench) serveHTTP() error {
	l, err := b.server.Listen("tcp", fmt.Sprintf(":%d", portHTTP))
	if err != nil {
		return err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(httpBody)
	})}
	go func() { _ = srv.Serve(l) }()
	return nil
}

func (b *bench) startRedis() (err error) {
	b.redis, err = b.server.StartProgram(context.Background(), nil, nil, "redis-server",
		"--port", strconv.Itoa(portRedis), "--bind", "0.0.0.0", "--protected-mode", "no",
		"--save", "", "--appendonly", "no")
	return err
}

// wrkScript makes wrk print its summary as one JSON line (latencies in µs).
const wrkScript = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`

func (b *bench) writeWrkScript() error {
	f, err := os.CreateTemp("", "bulkhead-bench-*.lua")
	if err != nil {
		return err
	}
	b.wrkScript = f.Name()
	_, err = f.WriteString(wrkScript)
	return errors.Join(err, f.Close())
}

// wrk runs wrk in the client container: requests/s, p50 and p99 (µs).
func (b *bench) wrk() ([]float64, error) {
	secs := b.cfg.seconds
	args := []string{"-t", strconv.Itoa(wrkThreads), "-c", strconv.Itoa(wrkConnections), "-d", fmt.Sprintf("%ds", secs),
		"-s", b.wrkScript, fmt.Sprintf("http://%s/", b.addr(portHTTP))}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+20)*time.Second)
	defer cancel()
	cmd := b.client.Command(ctx, "wrk", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("wrk %v: %w: %s", args, err, out)
	}
	b.clientCPU = childCPU(cmd)
	i := bytes.LastIndexByte(bytes.TrimSpace(out), '\n')
	var r struct {
		Requests   float64 `json:"requests"`
		DurationUS float64 `json:"duration_us"`
		Errors     int     `json:"errors"`
		P50        float64 `json:"p50_us"`
		P99        float64 `json:"p99_us"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out[i+1:]), &r); err != nil {
		return nil, fmt.Errorf("wrk output %q: %w", out, err)
	}
	if r.Errors > 0 || r.Requests == 0 || r.DurationUS == 0 {
		return nil, fmt.Errorf("wrk: %d errors, %v requests:\n%s", r.Errors, r.Requests, out)
	}
	b.ops = r.Requests
	return []float64{r.Requests / (r.DurationUS / 1e6), r.P50, r.P99}, nil
}

// childCPU is the CPU time of a finished command (`ip netns exec` execs the
// program in place, so it is the program's).
func childCPU(cmd *exec.Cmd) time.Duration {
	if cmd.ProcessState == nil {
		return 0
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// redisBenchmark runs redis-benchmark GET and SET in the client container:
// requests/s and p99 (µs) of each.
func (b *bench) redisBenchmark() ([]float64, error) {
	secs := b.cfg.seconds
	n := redisPerSecond * secs
	args := []string{"-h", b.server.IP4.String(), "-p", strconv.Itoa(portRedis), "-c", strconv.Itoa(redisClients),
		"-n", strconv.Itoa(n), "-r", "100000", "-t", "set,get", "--csv"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(8*secs+30)*time.Second)
	defer cancel()
	cmd := b.client.Command(ctx, "redis-benchmark", args...)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark %v: %w: %s", args, err, out)
	}
	b.clientCPU, b.ops = childCPU(cmd), float64(2*n)
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil || len(rows) < 3 {
		return nil, fmt.Errorf("redis-benchmark output %q: %v", out, err)
	}
	col := func(name string) int {
		for i, h := range rows[0] {
			if h == name {
				return i
			}
		}
		return -1
	}
	rps, p99 := col("rps"), col("p99_latency_ms")
	if rps < 0 || p99 < 0 {
		return nil, fmt.Errorf("redis-benchmark output %q: no rps or p99_latency_ms column", out)
	}
	got := map[string][2]float64{}
	for _, row := range rows[1:] {
		if len(row) != len(rows[0]) {
			continue
		}
		r, err1 := strconv.ParseFloat(row[rps], 64)
		p, err2 := strconv.ParseFloat(row[p99], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("redis-benchmark row %q: %v %v", row, err1, err2)
		}
		got[strings.ToUpper(row[0])] = [2]float64{r, p * 1000}
	}
	get, ok1 := got["GET"]
	set, ok2 := got["SET"]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("redis-benchmark output %q: want GET and SET rows", out)
	}
	return []float64{get[0], get[1], set[0], set[1]}, nil
}
