package scenario_test

import (
	"fmt"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/policy/graphview"
	"bulkhead.dev/bulkhead/testenv/scenario"
)

// What the protected shop's agent must report and count for each attack.

// dropEvent is the part of a drop event the test checks, field by field.
type dropEvent struct {
	Type                     events.Type
	Src, SrcKind             string
	Dst, DstKind             string
	DPort                    uint16
	Proto, App               string
	L7                       events.L7
	Mode, Verdict, Rule      string
	Node                     string
	Evidence, FlowID, HasIPs bool
}

func dropOf(ev *events.Event) dropEvent {
	return dropEvent{
		Type: ev.Type, Src: ev.Src.Workload, SrcKind: ev.Src.Kind, Dst: ev.Dst.Workload, DstKind: ev.Dst.Kind,
		DPort: ev.Dst.Port, Proto: ev.Proto, App: ev.App, L7: ev.L7, Mode: ev.Mode, Verdict: ev.Verdict, Rule: ev.Rule,
		Node: ev.Node, Evidence: ev.Evidence != "", FlowID: ev.FlowID != "" && !ev.Time.IsZero(),
		HasIPs: ev.Src.IP.IsValid() && ev.Dst.IP.IsValid(),
	}
}

// wantDrop is the drop event expected for an attack: want, with the fields
// that vary from probe to probe (the port a scan probes, the random name
// of an exfiltration query) taken from the event once vary has checked
// them; and the text its reason must hold.
type wantDrop struct {
	want   dropEvent
	vary   func(got *dropEvent) error
	reason func(ev *events.Event) string
}

// drop is a drop event of the protected shop with the fields every drop has.
func drop(src, dst, dstKind string, port uint16, proto string) dropEvent {
	return dropEvent{Type: events.Drop, Src: src, SrcKind: "local", Dst: dst, DstKind: dstKind, DPort: port, Proto: proto,
		Mode: "protect", Verdict: "deny", Node: "demo-node", Evidence: true, FlowID: true, HasIPs: true}
}

func fixed(s string) func(*events.Event) string { return func(*events.Event) string { return s } }

// wantDrops are the expected drop events of each attack of
// scenario.World.Attacks, by attack ID.
func wantDrops(apiIP netip.Addr) map[string]wantDrop {
	http := func(path string) wantDrop {
		d := drop("frontend", "api", "local", scenario.APIPort, "tcp")
		d.App, d.Rule = "http", "frontend-to-api-http"
		// The Host header names the api by address (the port left out).
		d.L7 = events.L7{Method: "GET", Host: apiIP.String(), Path: path}
		return wantDrop{want: d, reason: fixed(fmt.Sprintf("http path %q not allowed by rule frontend-to-api-http", path))}
	}
	dnsDrop := drop("api", "dns", "local", scenario.DNSPort, "udp")
	dnsDrop.App, dnsDrop.Rule, dnsDrop.L7.QType = "dns", "api-to-dns-dns", "A"
	return map[string]wantDrop{
		"lateral-compromised": {want: drop("compromised", "db", "local", scenario.RedisPort, "tcp"),
			reason: fixed("no rule from compromised (no group) to db")},
		"lateral-frontend": {want: drop("frontend", "db", "local", scenario.RedisPort, "tcp"),
			reason: fixed("no rule from frontend to db")},
		"scan": {want: drop("compromised", "", "local", 0, "tcp"),
			vary: func(got *dropEvent) error {
				if got.Dst != "api" && got.Dst != "db" || got.DPort == 0 {
					return fmt.Errorf("scan of %s:%d, want api or db", got.Dst, got.DPort)
				}
				got.Dst, got.DPort = "", 0
				return nil
			},
			reason: func(ev *events.Event) string { return "no rule from compromised (no group) to " + ev.Dst.Workload }},
		"http-admin":     http("/admin"),
		"http-traversal": http("/etc/passwd"),
		"dns-exfil": {want: dnsDrop,
			vary: func(got *dropEvent) error {
				if !strings.HasSuffix(got.L7.Query, ".exfil.attacker.example") || len(got.L7.Query) < 100 {
					return fmt.Errorf("query %q, want long random labels under exfil.attacker.example", got.L7.Query)
				}
				got.L7.Query = ""
				return nil
			},
			reason: func(ev *events.Event) string {
				return fmt.Sprintf("dns name %q not allowed by rule api-to-dns-dns", ev.L7.Query)
			}},
		"egress": {want: drop("api", "world", "world", scenario.PaymentsPort, "tcp"),
			reason: fixed("no rule from api to " + scenario.UnknownIP.String())},
	}
}

// checkDrops checks every event of an attack field by field, and its
// evidence file.
func checkDrops(t *testing.T, w *scenario.World, o *scenario.Outcome) {
	t.Helper()
	wd, ok := wantDrops(w.API.IP4)[o.Attack.ID]
	if !ok {
		t.Errorf("%s: no expected events for this attack", o.Attack.ID)
		return
	}
	for i := range o.Events {
		ev := &o.Events[i]
		got := dropOf(ev)
		if wd.vary != nil {
			if err := wd.vary(&got); err != nil {
				t.Errorf("%s: %s: %v", o.Attack.ID, scenario.Summarize(ev), err)
			}
		}
		if diff := cmp.Diff(wd.want, got); diff != "" {
			t.Errorf("%s: event %s (-want +got):\n%s", o.Attack.ID, scenario.Summarize(ev), diff)
		}
		if want := wd.reason(ev); ev.Reason != want {
			t.Errorf("%s: reason %q, want %q", o.Attack.ID, ev.Reason, want)
		}
		if ev.Evidence != "" {
			if err := checkEvidence(filepath.Join(w.Agent.StateDir, "evidence", ev.Evidence), ev); err != nil {
				t.Errorf("%s: evidence of %s: %v", o.Attack.ID, scenario.Summarize(ev), err)
			}
		}
	}
}

// normalServices are the services of the shop's normal traffic, as
// checkGraphVerdicts names them.
var normalServices = []string{
	"frontend → api tcp/8080 http",
	"api → db tcp/6379 redis",
	"api → dns udp/53 dns",
	"api → " + scenario.PaymentsName + " tcp/443 tls",
}

// deniedAfterAttacks are the connections (or DNS queries) each service
// must count as denied once every attack ran once against the protected
// shop: the keep-alive connections of the two HTTP attacks were allowed for
// their first request, then denied; the three exfiltration queries were
// dropped one by one on the dns service; the scan's 100 ports of db and the
// lateral movement to db fold into one service of many ports.
var deniedAfterAttacks = map[string]uint64{
	"frontend → api tcp/8080 http":                              2,
	"api → dns udp/53 dns":                                      3,
	"api → " + scenario.UnknownIP.String() + " tcp/443 unknown": 1,
	"compromised → api tcp/any unknown":                         100,
	"compromised → db tcp/any unknown":                          101,
	"frontend → db tcp/6379 unknown":                            1,
}

// checkGraphVerdicts checks the verdict counts the agent serves with its
// graph (step 8 of the demo): every service of the normal traffic counted
// allowed connections, under its app (DNS included); each attack's
// connections and queries are counted denied on the service they tried;
// nothing is counted reported (every group protects) and no service is
// counted that the traffic did not make.
func checkGraphVerdicts(t *testing.T, g graphview.Graph) {
	t.Helper()
	names := map[string]string{}
	for _, n := range g.Nodes {
		names[n.ID] = n.Name
	}
	got := map[string]graphview.Tally{}
	for _, e := range g.Edges {
		for _, sv := range e.Services {
			got[fmt.Sprintf("%s → %s %s/%s %s", names[e.Src], names[e.Dst], sv.Proto, strings.Join(sv.Ports, ","), sv.App)] = sv.Verdicts
		}
	}
	want := map[string]bool{}
	for _, s := range normalServices {
		want[s] = true
		if got[s].Allowed == 0 {
			t.Errorf("%s: no allowed connection counted (%+v)", s, got[s])
		}
	}
	for s := range deniedAfterAttacks {
		want[s] = true
	}
	for s, tally := range got {
		if !want[s] {
			t.Errorf("service %s (%+v) counted: the traffic made no such service", s, tally)
		}
		if tally.Reported != 0 || tally.Denied != deniedAfterAttacks[s] {
			t.Errorf("%s: %d reported, %d denied; want 0, %d", s, tally.Reported, tally.Denied, deniedAfterAttacks[s])
		}
	}
	for s := range want {
		if _, ok := got[s]; !ok {
			t.Errorf("no verdict counted for %s (services: %q)", s, slices.Sorted(maps.Keys(got)))
		}
	}
}
