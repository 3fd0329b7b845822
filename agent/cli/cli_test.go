package cli

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/modes"
	"bulkhead.dev/bulkhead/internal/golden"
)

var (
	t0  = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	now = t0.Add(3*time.Hour + 5*time.Minute)
)

func ep(w, ip string, port uint16) events.Endpoint {
	return events.Endpoint{Workload: w, IP: netip.MustParseAddr(ip), Port: port}
}

func TestOutputs(t *testing.T) {
	var b bytes.Buffer
	Status(&b, api.Status{
		Node: "node-1", Version: "v0.1.0", Started: t0, FailMode: "open", DefaultMode: "learn", Queues: 2,
		Checks:    []api.Check{{Name: "policy", OK: true, Detail: "9 rules from 2 files"}, {Name: "dataplane", Detail: "not wired"}},
		Workloads: 3,
		Policy: api.PolicyInfo{Loaded: true, Source: "/etc/bulkhead/policy/", Files: []string{"a"}, Groups: 1, Rules: 1,
			LoadedAt: t0.Add(time.Hour), LastError: "a.yaml:3: rules[0]: bad\na.yaml:4: rules[1]: bad"},
		Flows:     api.FlowStats{Active: 12, Limit: 262144, Created: 40, Evicted: map[string]uint64{"idle": 20, "capacity": 8}},
		Events:    api.EventStats{Written: 100, Dropped: 1, Evidence: 2},
		Dataplane: api.Dataplane{Detail: "not wired"},
	}, now)
	b.WriteString("---\n")
	Status(&b, api.Status{Node: "n", Started: t0, Ready: true, Policy: api.PolicyInfo{Source: "/p"},
		Events: api.EventStats{Evidence: 1, Subscribers: 1},
		Dataplane: api.Dataplane{Attached: true, Interfaces: 1, Detail: "connmark by repeat, fail-open", Counters: &api.PacketCounters{
			Queued: 120, Accepted: 118, Dropped: 2, Verdicts: map[string]uint64{"accept": 90, "allow": 20, "deny": 2, "inspect": 8},
			Inspecting: 1, WaitExceeded: 1, DNSDropped: 1, KernelDropped: 4, Overruns: 1}},
		Queues: 1, Flows: api.FlowStats{Limit: 10}}, now)
	b.WriteString("---\n")
	Flows(&b, []api.Flow{
		{Src: ep("frontend", "198.18.0.10", 41000), Dst: ep("api", "198.18.0.11", 8080), Proto: "tcp", App: "http", Verdict: "inspect", Mode: "protect", Rule: "frontend-to-api", Packets: 12, LastSeen: now.Add(-2 * time.Second)},
		{Src: ep("frontend", "198.18.0.10", 41001), Dst: ep("db", "198.18.0.12", 6379), Proto: "tcp", App: "redis", Verdict: "deny", Mode: "protect", Reason: "no rule allows it", Packets: 1, LastSeen: now.Add(-90 * time.Second)},
		{Src: ep("api", "2001:2:0:1::b", 5353), Dst: ep("2001:2:0:100::9", "2001:2:0:100::9", 53), Proto: "udp", Verdict: "undecided", Packets: 2, LastSeen: now},
	}, now)
	Flows(&b, nil, now)
	b.WriteString("---\n")
	Modes(&b, []modes.Entry{
		{Group: "api", Mode: modes.Protect, PolicyMode: modes.Learn, Source: modes.FromOperator, Since: now.Add(-5 * time.Minute)},
		{Group: "db", Mode: modes.Monitor, PolicyMode: modes.Monitor, Source: modes.FromPolicy},
	}, "learn", now)
	// One group ("bulkhead mode GROUP"): no row for workloads in no group.
	Modes(&b, []modes.Entry{{Group: "db", Mode: modes.Monitor, PolicyMode: modes.Monitor, Source: modes.FromPolicy}}, "", now)
	ModeChange(&b, modes.Learn, modes.Entry{Group: "api", Mode: modes.Protect})
	ModeChange(&b, modes.Protect, modes.Entry{Group: "api", Mode: modes.Protect})
	b.WriteString("---\n")
	Workloads(&b, []api.Workload{{Name: "api", Interface: "veth1", Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.11")}, Mode: "protect", Groups: []string{"api", "backend"}, Source: "netns"}})
	Workloads(&b, nil)
	b.WriteString("---\n")
	for _, e := range []events.Event{
		{Time: t0, Type: events.Drop, Src: ep("frontend", "198.18.0.10", 41000), Dst: ep("db", "198.18.0.12", 6379), Proto: "tcp", App: "redis",
			L7: events.L7{Command: "FLUSHALL"}, Mode: "protect", Verdict: "deny", Reason: "no rule allows frontend to db", Evidence: "bulkhead-x.pcapng"},
		{Time: t0, Type: events.Violation, Src: ep("frontend", "198.18.0.10", 41002), Dst: ep("api", "198.18.0.11", 8080), Proto: "tcp", App: "http",
			L7: events.L7{Method: "GET", Host: "api", Path: "/admin", Status: 200}, Mode: "monitor", Verdict: "allow", Rule: "frontend-to-api", Reason: "path not allowed"},
		{Time: t0, Type: events.Drop, Src: ep("api", "198.18.0.11", 5353), Dst: ep("world", "198.19.1.53", 53), Proto: "udp", App: "dns",
			L7: events.L7{Query: "x7f3.exfil.example", QType: "TXT"}, Mode: "protect", Verdict: "deny", Reason: "DNS name not allowed"},
		{Time: t0, Type: events.Learned, Src: ep("api", "198.18.0.11", 41000), Dst: ep("db", "198.18.0.12", 5432), Proto: "tcp", App: "postgresql",
			L7: events.L7{User: "app", Database: "orders", Command: "SELECT"}, Mode: "learn", Verdict: "allow"},
		{Time: t0, Type: events.ModeChange, Group: "api", From: "learn", Mode: "protect", Reason: "set by the operator"},
		{Time: t0, Type: events.PolicyReload, Message: "2 files, 4 groups, 9 rules"},
		{Time: t0, Type: events.PolicyReloadFailed, Reason: "a.yaml:3: bad\na.yaml:4: bad"},
		{Time: t0, Type: events.EventsLost, Lost: 12},
		{Time: t0, Type: events.EventsLost, Lost: 1},
		{Time: t0, Type: events.Violation, Src: ep("api", "198.18.0.11", 41000), Dst: ep("partner", "198.19.2.2", 443), Proto: "tcp", App: "grpc",
			L7: events.L7{GRPCService: "pkg.Orders", GRPCMethod: "Delete", Topic: "t"}, Mode: "monitor"},
	} {
		Event(&b, e)
	}
	golden.Check(t, "testdata/outputs.txt", b.Bytes())
}

func TestAgo(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{{-time.Second, "0s"}, {59 * time.Second, "59s"}, {61 * time.Minute, "1h"}, {47 * time.Hour, "47h"}, {72 * time.Hour, "3d"}} {
		if got := ago(now.Add(-tt.d), now); got != tt.want {
			t.Errorf("ago(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if got := ago(time.Time{}, now); got != "-" {
		t.Errorf("ago(zero) = %q", got)
	}
}

func TestJSON(t *testing.T) {
	var b bytes.Buffer
	if err := JSON(&b, map[string]int{"a": 1}); err != nil || b.String() != "{\n  \"a\": 1\n}\n" {
		t.Errorf("JSON = %q, %v", b.String(), err)
	}
	if err := JSON(&b, func() {}); err == nil {
		t.Error("JSON of a func succeeded")
	}
}
