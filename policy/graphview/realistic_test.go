package graphview

import (
	"fmt"
	"net/netip"
	"time"

	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy/learn"
)

// stepClock starts at t0 and advances by one minute per call.
func stepClock() func() time.Time {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	return func() time.Time {
		now = now.Add(time.Minute)
		return now
	}
}

var (
	frontend = learn.Workload("frontend")
	api      = learn.Workload("api")
	db       = learn.Workload("db")
	dns      = learn.Workload("dns")
)

var realisticLabels = map[string]map[string]string{
	"frontend": {"app": "frontend", "tier": "web", "pod-template-hash": "7d9f8c6b5"},
	"api":      {"app": "api", "tier": "backend"},
	"db":       {"app": "redis", "tier": "data"},
	"dns":      {"app": "coredns"},
}

// realisticGraph is a small shop learned by the graph itself: frontend →
// api over HTTP with several paths (ids generalised as they are learned),
// api → db redis, api → dns DNS, api → five names under example.com over
// TLS, an object store reached by address (four addresses of one /24,
// three ports), a partner reached by address, internet clients → frontend
// (a world peer), and the host probing the api.
func realisticGraph() learn.Snapshot {
	g := learn.New(stepClock(), learn.Limits{})
	obs := func(src, dst learn.Peer, proto l7.Transport, port uint16, app l7.App, req *l7.Request, times int) {
		for range times {
			o := learn.Observation{Src: src, Dst: dst, Proto: proto, Port: port, App: app, Request: req}
			if src.Kind == learn.PeerWorkload {
				o.SrcLabels = realisticLabels[src.Name]
			}
			if dst.Kind == learn.PeerWorkload {
				o.DstLabels = realisticLabels[dst.Name]
			}
			g.Observe(o)
		}
	}
	http := func(method, path string) *l7.Request { return &l7.Request{Method: method, Path: path} }
	for i, p := range []string{"/users/1001", "/users/1002", "/users/1003", "/users/1004"} {
		obs(frontend, api, l7.TCP, 8080, l7.HTTP, http("GET", p), 3+i)
	}
	obs(frontend, api, l7.TCP, 8080, l7.HTTP, http("GET", "/orders"), 6)
	obs(frontend, api, l7.TCP, 8080, l7.HTTP, http("POST", "/orders"), 4)
	obs(frontend, api, l7.TCP, 8080, l7.HTTP, http("GET", "/products/search"), 2)
	obs(frontend, api, l7.TCP, 8080, l7.HTTP, http("DELETE", "/cart/items/7f3a9c2e"), 1)
	obs(frontend, api, l7.TCP, 8080, l7.HTTP, http("GET", "/static/app.js"), 1)
	for _, c := range []struct {
		cmd string
		n   int
	}{{"GET", 9}, {"SET", 5}, {"EXPIRE", 2}} {
		obs(api, db, l7.TCP, 6379, l7.Redis, &l7.Request{Command: c.cmd}, c.n)
	}
	for i, name := range []string{"cdn", "images", "mail", "pay", "status"} {
		fqdn := name + ".example.com"
		obs(api, dns, l7.UDP, 53, l7.DNS, &l7.Request{Host: fqdn}, 2+i)
		obs(api, learn.FQDN(fqdn), l7.TCP, 443, l7.TLS, &l7.Request{Host: fqdn}, 1+i)
	}
	obs(api, dns, l7.UDP, 53, l7.DNS, &l7.Request{Host: "db.shop.internal"}, 3)
	for i := range 4 {
		store := learn.Addr(netip.MustParseAddr(fmt.Sprintf("198.18.64.%d", 10+i)))
		obs(api, store, l7.TCP, uint16(9000+i%3), l7.Unknown, nil, 2)
	}
	obs(api, learn.Addr(netip.MustParseAddr("198.19.0.10")), l7.TCP, 8443, l7.Unknown, nil, 3)
	for _, a := range []string{"198.18.200.7", "198.18.201.23", "2001:2::99"} {
		obs(learn.Addr(netip.MustParseAddr(a)), frontend, l7.TCP, 443, l7.TLS, &l7.Request{Host: "shop.example.net"}, 4)
	}
	obs(learn.Host(), api, l7.TCP, 8080, l7.HTTP, http("GET", "/healthz"), 5)
	obs(learn.Host(), frontend, l7.TCP, 443, l7.TLS, &l7.Request{Host: "shop.example.net"}, 2)
	return g.Snapshot()
}

// realisticVerdicts are the agent's counts for the same shop after the
// switch to protect: the learned edges allowed, frontend trying db directly
// (never learned: denied), and the partner address reported (its group is
// in monitor mode).
func realisticVerdicts() []VerdictCount {
	at := func(min int) time.Time { return time.Date(2026, 3, 2, 10, min, 0, 0, time.UTC) }
	v := func(src, dst learn.Peer, proto string, port uint16, app l7.App, allowed, reported, denied uint64) VerdictCount {
		return VerdictCount{Src: src, Dst: dst, Proto: proto, Port: port, App: app,
			Allowed: allowed, Reported: reported, Denied: denied, FirstSeen: at(0), LastSeen: at(30)}
	}
	out := []VerdictCount{
		v(frontend, api, "tcp", 8080, l7.HTTP, 1240, 0, 0),
		v(api, db, "tcp", 6379, l7.Redis, 860, 0, 0),
		v(api, dns, "udp", 53, l7.DNS, 310, 0, 0),
		v(frontend, db, "tcp", 6379, l7.Redis, 0, 0, 3),
		v(api, learn.Addr(netip.MustParseAddr("198.19.0.10")), "tcp", 8443, l7.Unknown, 0, 4, 0),
		v(learn.Addr(netip.MustParseAddr("198.18.200.7")), frontend, "tcp", 443, l7.TLS, 95, 0, 0),
		v(learn.Host(), api, "tcp", 8080, l7.HTTP, 60, 0, 0),
	}
	for _, name := range []string{"cdn", "images", "mail", "pay", "status"} {
		out = append(out, v(api, learn.FQDN(name+".example.com"), "tcp", 443, l7.TLS, 12, 0, 0))
	}
	return foldVerdicts(out)
}

// realisticInput is the graph with the verdict counts.
func realisticInput() Input {
	return Input{Graph: realisticGraph(), Verdicts: realisticVerdicts(), HasVerdicts: true}
}
