package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Load parameters: the same as the dataplane's benchmark, so that the two
// tables compare.
const (
	wrkThreads     = 2
	wrkConnections = 16
	redisClients   = 50
	// redisPerSecond sizes redis-benchmark's request count to about the
	// measurement's seconds on the test machine.
	redisPerSecond = 25000
)

// wrkReport is a wrk script whose done() prints one JSON line: requests,
// duration, errors and the latency percentiles in µs.
const wrkReport = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"errors":%d,"p50":%d,"p99":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`

// wrk loads the HTTP server from the client: keep-alive connections, each
// request GET /users/1.
func (b *bed) wrk() (load, error) {
	secs := b.cfg.seconds
	url := fmt.Sprintf("http://%s:%d/users/1", b.server.IP4, portHTTP)
	args := []string{"-t", strconv.Itoa(wrkThreads), "-c", strconv.Itoa(wrkConnections), "-d", fmt.Sprintf("%ds", secs), "-s", b.wrkLua, url}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+20)*time.Second)
	defer cancel()
	out, err := b.client.Command(ctx, "wrk", args...).CombinedOutput()
	if err != nil {
		return load{}, fmt.Errorf("wrk %v: %w: %s", args, err, out)
	}
	out = bytes.TrimSpace(out)
	var r struct {
		Requests float64 `json:"requests"`
		Duration float64 `json:"duration_us"`
		Errors   int     `json:"errors"`
		P50      float64 `json:"p50"`
		P99      float64 `json:"p99"`
	}
	if err := json.Unmarshal(out[bytes.LastIndexByte(out, '\n')+1:], &r); err != nil {
		return load{}, fmt.Errorf("wrk output %q: %w", out, err)
	}
	if r.Errors > 0 || r.Requests == 0 || r.Duration == 0 {
		return load{}, fmt.Errorf("wrk: %d errors in %v requests:\n%s", r.Errors, r.Requests, out)
	}
	return load{rps: r.Requests / (r.Duration / 1e6), p50: r.P50, p99: r.P99, requests: r.Requests}, nil
}

// redisBenchmark runs redis-benchmark's GET and SET tests from the client
// (keep-alive connections) and returns each one's figures.
func (b *bed) redisBenchmark() (get, set load, err error) {
	secs := b.cfg.seconds
	n := redisPerSecond * secs
	args := []string{"-h", b.server.IP4.String(), "-p", strconv.Itoa(portRedis), "-c", strconv.Itoa(redisClients),
		"-n", strconv.Itoa(n), "-r", "100000", "-t", "set,get", "--csv"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(8*secs+30)*time.Second)
	defer cancel()
	out, err := b.client.Command(ctx, "redis-benchmark", args...).Output()
	if err != nil {
		return get, set, fmt.Errorf("redis-benchmark %v: %w: %s", args, err, out)
	}
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil || len(rows) < 3 {
		return get, set, fmt.Errorf("redis-benchmark output %q: %v", out, err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, name := range []string{"rps", "p50_latency_ms", "p99_latency_ms"} {
		if _, ok := col[name]; !ok {
			return get, set, fmt.Errorf("redis-benchmark output %q: no %s column", out, name)
		}
	}
	found := map[string]load{}
	for _, row := range rows[1:] {
		if len(row) != len(rows[0]) {
			continue
		}
		var v [3]float64
		for i, name := range []string{"rps", "p50_latency_ms", "p99_latency_ms"} {
			if v[i], err = strconv.ParseFloat(row[col[name]], 64); err != nil {
				return get, set, fmt.Errorf("redis-benchmark row %q: %w", row, err)
			}
		}
		found[strings.ToUpper(row[0])] = load{rps: v[0], p50: v[1] * 1000, p99: v[2] * 1000, requests: float64(n)}
	}
	get, ok1 := found["GET"]
	set, ok2 := found["SET"]
	if !ok1 || !ok2 {
		return get, set, fmt.Errorf("redis-benchmark output %q: want GET and SET rows", out)
	}
	return get, set, nil
}
