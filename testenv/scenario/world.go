package scenario

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"bulkhead.dev/bulkhead/testenv"
)

// Ports, names and addresses of the shop. Container addresses come from
// testenv (in the order of Containers); these are the ones the scenario
// chooses.
const (
	APIPort      = 8080
	RedisPort    = 6379
	DNSPort      = 53
	PaymentsPort = 443
	// PaymentsName is the one external name the shop uses.
	PaymentsName = "payments.example.com"
)

var (
	// PaymentsIP is what the dns container answers for PaymentsName: an
	// address of the internet host.
	PaymentsIP = netip.MustParseAddr("198.19.10.10")
	// UnknownIP is another address of the internet host, which no DNS
	// answer names: egress to it is egress to an unknown external IP.
	UnknownIP = netip.MustParseAddr("198.19.66.6")
)

// Containers are the shop's containers, in address order (frontend gets
// 198.18.0.10, api .11, …).
var Containers = []string{"frontend", "api", "db", "dns", "compromised"}

// Config describes a world to build.
type Config struct {
	// Name, when set, names the test bed for people: its namespaces are
	// bh-NAME-*. Tests leave it empty and get unique names.
	Name string
	// Bin is the bulkhead binary that runs the agent and the CLI verbs.
	Bin string
	// Dir holds the agent's configuration, state, socket and logs, and
	// redis's files. Empty: a new temporary directory that Close removes.
	Dir string
	// Logger receives debug details (commands run, waits); nil discards.
	Logger *slog.Logger
}

// World is the shop on its node. Build makes it; Close removes everything.
type World struct {
	Node                                *testenv.Node
	Frontend, API, DB, DNS, Compromised *testenv.Container
	Internet                            *testenv.External
	// Dir is the working directory (see Config.Dir).
	Dir string
	// Agent is the running agent, after StartAgent.
	Agent *Agent

	cfg      Config
	log      *slog.Logger
	ownDir   bool
	shop     *shop
	payments *paymentsServer

	closeOnce sync.Once
	closeErr  error
}

// Build builds the node, starts the shop's servers and waits until a normal
// order goes through (before any agent runs).
func Build(ctx context.Context, cfg Config) (w *World, err error) {
	if cfg.Bin == "" {
		return nil, errors.New("scenario: Config.Bin: the bulkhead binary is required")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("scenario: the db container runs a real redis-server: %w (install the redis-server package; scripts/install-deps.sh does)", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w = &World{cfg: cfg, log: log, Dir: cfg.Dir}
	if w.Dir == "" {
		if w.Dir, err = os.MkdirTemp("", "bulkhead-demo-"); err != nil {
			return nil, fmt.Errorf("scenario: working directory: %w", err)
		}
		w.ownDir = true
	} else if err := os.MkdirAll(w.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("scenario: working directory %s: %w", w.Dir, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, w.Close())
			w = nil
		}
	}()

	w.Node, err = testenv.Build(testenv.Config{
		Name:       cfg.Name,
		Topology:   testenv.Bridged,
		Containers: Containers,
		Externals:  []testenv.ExternalSpec{{Name: "internet", Addrs: []netip.Addr{PaymentsIP, UnknownIP}}},
	})
	if err != nil {
		return w, fmt.Errorf("scenario: build the node: %w", err)
	}
	n := w.Node
	w.Frontend, w.API, w.DB, w.DNS, w.Compromised = n.Container("frontend"), n.Container("api"), n.Container("db"), n.Container("dns"), n.Container("compromised")
	w.Internet = n.External("internet")

	if _, err = StartRedis(ctx, w.DB, filepath.Join(w.Dir, "redis")); err != nil {
		return w, err
	}
	if _, err := w.DNS.ServeDNS(fmt.Sprintf(":%d", DNSPort), testenv.Zone{
		fmt.Sprintf("%s. 60 IN A %s", PaymentsName, PaymentsIP),
	}); err != nil {
		return w, fmt.Errorf("scenario: dns server: %w", err)
	}
	if w.payments, err = startPayments(w.Internet); err != nil {
		return w, err
	}
	w.shop = newShop(w.API, w.redisAddr(), w.dnsAddr(), w.payments.roots)
	if _, err := w.API.ServeHTTP(fmt.Sprintf(":%d", APIPort), w.shop); err != nil {
		return w, fmt.Errorf("scenario: api server: %w", err)
	}
	if err := w.waitServing(ctx); err != nil {
		return w, err
	}
	return w, nil
}

// waitServing waits until a normal order goes through: every server is up
// and every path works without the agent.
func (w *World) waitServing(ctx context.Context) error {
	if r := w.Check(ctx); !r.OK {
		return fmt.Errorf("scenario: the shop does not work before any agent runs: %s", r.Detail)
	}
	return nil
}

func (w *World) redisAddr() string {
	return netip.AddrPortFrom(w.DB.IP4, RedisPort).String()
}

func (w *World) dnsAddr() string {
	return netip.AddrPortFrom(w.DNS.IP4, DNSPort).String()
}

func (w *World) apiURL(path string) string {
	return "http://" + netip.AddrPortFrom(w.API.IP4, APIPort).String() + path
}

// Close stops the agent (if it still runs), every server and program, and
// removes the node and the working directory (when Build made it). It is
// safe to call more than once.
func (w *World) Close() error {
	w.closeOnce.Do(func() {
		var errs []error
		if w.Agent != nil {
			errs = append(errs, w.Agent.kill())
		}
		if w.payments != nil {
			errs = append(errs, w.payments.Close())
		}
		if w.Node != nil {
			errs = append(errs, w.Node.Close())
		}
		if w.ownDir {
			errs = append(errs, os.RemoveAll(w.Dir))
		}
		w.closeErr = errors.Join(errs...)
	})
	return w.closeErr
}
