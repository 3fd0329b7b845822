package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"bulkhead.dev/bulkhead/internal/benchkit"
)

// Metric names the targets refer to.
const (
	mThroughput1  = "TCP throughput, 1 stream"
	mThroughput4  = "TCP throughput, 4 streams"
	mConnRate     = "TCP connections/s (4 clients, 1-byte exchange)"
	mRoundTrip    = "1-byte request/response round trip"
	mUDP          = "UDP 18-byte datagrams received"
	mHTTPRate     = "HTTP keep-alive requests/s (wrk)"
	mHTTPP50      = "HTTP latency p50 (wrk)"
	mHTTPP99      = "HTTP latency p99 (wrk)"
	mRedisGet     = "redis GET requests/s"
	mRedisGetP99  = "redis GET latency p99"
	mRedisSet     = "redis SET requests/s"
	mRedisSetP99  = "redis SET latency p99"
	mHTTPCPU      = "HTTP CPU per request (wrk + server + daemon)"
	mRedisCPU     = "redis CPU per request (redis-benchmark + redis-server + daemon)"
	mConnCPU      = "CPU per connection (client + server + daemon)"
	mRoundTripCPU = "CPU per round trip (client + server + daemon)"
	mTput1CPU     = "TCP 1 stream, CPU per MB (iperf3 client + server + daemon)"
	mTput4CPU     = "TCP 4 streams, CPU per MB (iperf3 client + server + daemon)"
)

// self is the server process of the tests whose servers run in this
// program (HTTP, echo).
func self(*bench) int { return os.Getpid() }

// iperfServer is the iperf3 server's process.
func iperfServer(b *bench) int { return b.iperfServer.PID() }

var (
	bulkModes = []string{"bare", "conntrack", "allow", "inspect-all", "inspect-all-hash"}
	allModes  = modeOrder
)

func (b *bench) tests() []test {
	return []test{
		{key: "tcp1", metrics: []metric{{name: mThroughput1, unit: "Gbit/s"}, {name: mTput1CPU, unit: "µs", lowerBetter: true}},
			modes: bulkModes, run: b.iperf(1), cpu: iperfServer},
		{key: "tcp4", metrics: []metric{{name: mThroughput4, unit: "Gbit/s"}, {name: mTput4CPU, unit: "µs", lowerBetter: true}},
			modes: bulkModes, run: b.iperf(4), cpu: iperfServer},
		{key: "crr", metrics: []metric{{name: mConnRate, unit: "conn/s"}, {name: mConnCPU, unit: "µs", lowerBetter: true}}, modes: allModes, cpu: self, run: func(b *bench) ([]float64, error) {
			r, err := b.worker("crr", b.addr(portEcho), 4)
			if err != nil {
				return nil, err
			}
			return []float64{float64(r.Ops) / r.Seconds}, nil
		}},
		{key: "rr", metrics: []metric{{name: mRoundTrip, unit: "µs", lowerBetter: true}, {name: mRoundTripCPU, unit: "µs", lowerBetter: true}}, modes: allModes, cpu: self, run: func(b *bench) ([]float64, error) {
			r, err := b.worker("rr", b.addr(portEcho), 1)
			if err != nil {
				return nil, err
			}
			if r.Ops == 0 {
				return nil, errors.New("no round trip completed")
			}
			return []float64{r.Seconds * 1e6 / float64(r.Ops)}, nil
		}},
		{key: "udp", metrics: []metric{{name: mUDP, unit: "pkt/s"}}, modes: bulkModes, run: func(b *bench) ([]float64, error) {
			before := b.udpReceived.Load()
			r, err := b.worker("udp", b.addr(portUDP), 1)
			if err != nil {
				return nil, err
			}
			time.Sleep(200 * time.Millisecond) // let the sink drain
			got := b.udpReceived.Load() - before
			return []float64{float64(got) / r.Seconds}, nil
		}},
		{key: "http", metrics: []metric{
			{name: mHTTPRate, unit: "req/s"},
			{name: mHTTPP50, unit: "µs", lowerBetter: true},
			{name: mHTTPP99, unit: "µs", lowerBetter: true},
			{name: mHTTPCPU, unit: "µs", lowerBetter: true},
		}, modes: []string{"bare", "conntrack", "allow", "inspect", "inspect-all"}, run: (*bench).wrk, cpu: self},
		{key: "redis", metrics: []metric{
			{name: mRedisGet, unit: "req/s"},
			{name: mRedisGetP99, unit: "µs", lowerBetter: true},
			{name: mRedisSet, unit: "req/s"},
			{name: mRedisSetP99, unit: "µs", lowerBetter: true},
			{name: mRedisCPU, unit: "µs", lowerBetter: true},
		}, modes: []string{"bare", "conntrack", "allow", "inspect"}, run: (*bench).redisBenchmark,
			cpu: func(b *bench) int { return b.redis.PID() }},
	}
}

func (b *bench) iperf(streams int) func(*bench) ([]float64, error) {
	return func(b *bench) ([]float64, error) {
		secs := b.cfg.seconds
		args := []string{"-c", b.server.IP4.String(), "-p", fmt.Sprint(portIperf), "-t", fmt.Sprint(secs), "-J", "-P", fmt.Sprint(streams)}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+20)*time.Second)
		defer cancel()
		cmd := b.client.Command(ctx, "iperf3", args...)
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("iperf3 %v: %w: %s", args, err, out)
		}
		var r struct {
			End struct {
				SumReceived struct {
					Bytes         float64 `json:"bytes"`
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			return nil, fmt.Errorf("iperf3 output: %w", err)
		}
		// CPU per MB received: the client and (measured by the
		// caller) the server and the daemon.
		b.clientCPU, b.ops = benchkit.CPUTime(cmd), r.End.SumReceived.Bytes/1e6
		return []float64{r.End.SumReceived.BitsPerSecond / 1e9}, nil
	}
}

// worker runs this program's load generator inside the client namespace.
func (b *bench) worker(kind, addr string, conc int) (workerResult, error) {
	secs := b.cfg.seconds
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+20)*time.Second)
	defer cancel()
	cmd := b.client.Command(ctx, b.self, "-worker", kind, "-addr", addr,
		"-duration", fmt.Sprintf("%ds", secs), "-concurrency", fmt.Sprint(conc))
	out, err := cmd.Output()
	var r workerResult
	if err != nil {
		return r, fmt.Errorf("worker %s: %w: %s", kind, err, out)
	}
	b.clientCPU = benchkit.CPUTime(cmd)
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("worker %s output %q: %w", kind, out, err)
	}
	// A few failed operations are reported in the table (a rare reset is
	// worth seeing, not worth losing the whole run over); more than 1 %
	// means the test bed or the daemon is broken.
	if r.Errors*100 > r.Errors+r.Ops {
		return r, fmt.Errorf("worker %s: %d failed operations (of %d); the first: %s", kind, r.Errors, r.Errors+r.Ops, r.First)
	}
	b.failed, b.failure = r.Errors, r.First
	b.ops = float64(r.Ops)
	return r, nil
}
