package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/internal/benchkit"
	"bulkhead.dev/bulkhead/testenv"
)

// config is the command line.
type config struct {
	bin, record, profile, command string
	runs, seconds                 int
	agentArgs                     []string
}

const (
	portHTTP  = 8080
	portRedis = 6379
)

// benchPolicy is "realistic": the client may call two API paths and use
// four Redis commands; everything else is denied. Both rules have L7
// conditions, so the agent checks every request.
const benchPolicy = `apiVersion: bulkhead.dev/v1alpha1
kind: Policy
metadata: {name: bench}
spec:
  defaultMode: protect
  groups:
    - {name: client, selector: {matchLabels: {bulkhead.dev/workload: client}}}
    - {name: server, selector: {matchLabels: {bulkhead.dev/workload: server}}}
  rules:
    - name: client-to-api
      from: client
      to: server
      ports: [tcp/8080]
      app: http
      http:
        - {method: GET, path: "/users/{id}"}
        - {method: POST, path: /orders}
    - name: client-to-redis
      from: client
      to: server
      ports: [tcp/6379]
      app: redis
      redis: [{command: GET}, {command: SET}, {command: PING}, {command: CONFIG}]
`

// bed is the test bed: a client and a server container.
type bed struct {
	cfg    config
	n      *testenv.Node
	client *testenv.Container
	server *testenv.Container
	dir    string
	wrkLua string
}

func run(cfg config) error {
	n, err := testenv.Build(testenv.Config{Containers: []string{"client", "server"}})
	if err != nil {
		return err
	}
	defer n.Close()
	dir, err := os.MkdirTemp("", "bulkhead-benchagent")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b := &bed{cfg: cfg, n: n, client: n.Container("client"), server: n.Container("server"), dir: dir}
	if err := b.startServers(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "policy"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "policy", "bench.yaml"), []byte(benchPolicy), 0o644); err != nil {
		return err
	}
	if b.wrkLua, err = benchkit.WriteWrkScript(dir); err != nil {
		return err
	}

	var bare, agent []sample
	var checks []string
	for i := range cfg.runs {
		fmt.Fprintf(os.Stderr, "run %d/%d: bare\n", i+1, cfg.runs)
		s, err := b.measure()
		if err != nil {
			return fmt.Errorf("bare: %w", err)
		}
		bare = append(bare, s)
		fmt.Fprintf(os.Stderr, "run %d/%d: agent in protect mode\n", i+1, cfg.runs)
		profile := ""
		if i == cfg.runs-1 {
			profile = cfg.profile
		}
		s, check, err := b.measureAgent(profile)
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		agent = append(agent, s)
		checks = append(checks, check)
	}
	table := render(cfg, bare, agent, checks)
	fmt.Print(table)
	if cfg.record != "" {
		return benchkit.RecordSubsection(cfg.record, "Agent", "End to end: make bench-agent", table)
	}
	return nil
}

// startServers starts the HTTP server and redis-server in the server
// container and waits for redis-server to listen.
func (b *bed) startServers() error {
	if err := benchkit.ServeHTTP(b.server.Host, portHTTP); err != nil {
		return err
	}
	if _, err := benchkit.StartRedis(b.server.Host, portRedis, b.dir); err != nil {
		return err
	}
	return benchkit.WaitListening(b.server.Host, fmt.Sprintf("127.0.0.1:%d", portRedis), 10*time.Second)
}

// sample is one run's results.
type sample struct {
	http          benchkit.Load
	redisGet, set benchkit.Load
}

// measure runs the loads: wrk (GET /users/1, a path the policy allows) and
// redis-benchmark, from the client.

func (b *bed) measure() (sample, error) {
	var s sample
	var err error
	url := fmt.Sprintf("http://%s:%d/users/1", b.server.IP4, portHTTP)
	if s.http, err = benchkit.Wrk(b.client.Host, url, b.wrkLua, b.cfg.seconds); err != nil {
		return s, err
	}
	s.redisGet, s.set, err = benchkit.RedisBenchmark(b.client.Host, b.server.IP4.String(), portRedis, b.cfg.seconds)
	return s, err
}

// measureAgent starts the agent, measures, and checks from the agent's
// counters that the requests were inspected; it returns that check's line.
func (b *bed) measureAgent(profile string) (sample, string, error) {
	state := filepath.Join(b.dir, "state")
	os.RemoveAll(state)
	sock := filepath.Join(b.dir, "bh.sock")
	args := []string{"agent", "--node", "bench", "--state-dir", state, "--api-socket", sock, "--metrics-listen", "",
		"--policy", filepath.Join(b.dir, "policy"), "--set", "identity.netns.stripPrefixes=[" + b.n.Prefix() + "-]"}
	if profile != "" {
		args = append(args, "--cpuprofile", profile)
	}
	args = append(args, b.cfg.agentArgs...)
	var stderr strings.Builder
	cmd := exec.Command(b.cfg.bin, args...)
	cmd.Stderr = &stderr
	p, err := b.n.Node.Start(cmd)
	if err != nil {
		return sample{}, "", err
	}
	defer func() {
		p.Signal(syscall.SIGTERM)
		select {
		case <-p.Done():
		case <-time.After(20 * time.Second):
			p.Kill()
		}
	}()
	client, err := api.NewClient(sock)
	if err != nil {
		return sample{}, "", err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := client.Status(ctx)
		cancel()
		if err == nil && st.Ready && st.Workloads == 2 && st.Policy.Loaded {
			break
		}
		if p.Exited() || time.Now().After(deadline) {
			return sample{}, "", fmt.Errorf("the agent is not ready (%v):\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	s, err := b.measure()
	if err != nil {
		return s, "", fmt.Errorf("%w\nagent log:\n%s", err, stderr.String())
	}
	st, err := client.Status(context.Background())
	if err != nil {
		return s, "", err
	}
	c := st.Dataplane.Counters
	requests := s.http.Requests + s.redisGet.Requests + s.set.Requests
	check := fmt.Sprintf("%.0f requests, %d packets queued, %d connections inspected, %d denied, %d events dropped",
		requests, c.Queued, c.Verdicts["inspect"], c.Verdicts["deny"], st.Events.Dropped)
	if float64(c.Queued) < requests {
		return s, check, errors.New("the agent saw fewer packets than there were requests: they were not all checked: " + check)
	}
	return s, check, nil
}
