package main

import "bulkhead.dev/bulkhead/internal/benchkit"

// startApps starts the application servers in the server container: a Go
// HTTP server (wrk's target) and redis-server (redis-benchmark's), and
// writes wrk's report script.
func (b *bench) startApps() (err error) {
	if err := benchkit.ServeHTTP(b.server.Host, portHTTP); err != nil {
		return err
	}
	if b.redis, err = benchkit.StartRedis(b.server.Host, portRedis, ""); err != nil {
		return err
	}
	b.wrkScript, err = benchkit.WriteWrkScript("")
	return err
}

// wrk runs wrk in the client container: requests/s, p50 and p99 (µs).
func (b *bench) wrk() ([]float64, error) {
	l, err := benchkit.Wrk(b.client.Host, "http://"+b.addr(portHTTP)+"/", b.wrkScript, b.cfg.seconds)
	if err != nil {
		return nil, err
	}
	b.clientCPU, b.ops = l.CPU, l.Requests
	return []float64{l.RPS, l.P50, l.P99}, nil
}

// redisBenchmark runs redis-benchmark GET and SET in the client container:
// requests/s and p99 (µs) of each.
func (b *bench) redisBenchmark() ([]float64, error) {
	get, set, err := benchkit.RedisBenchmark(b.client.Host, b.server.IP4.String(), portRedis, b.cfg.seconds)
	if err != nil {
		return nil, err
	}
	b.clientCPU, b.ops = get.CPU, get.Requests+set.Requests
	return []float64{get.RPS, get.P99, set.RPS, set.P99}, nil
}
