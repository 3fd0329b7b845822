package e2e_test

import (
	"slices"
	"testing"

	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/testenv"
)

// TestFQDN: a policy allows the api egress to *.allowed.example. An address
// the client resolved from such a name through the DNS server is allowed;
// an address resolved from another name, or never resolved, is denied.
func TestFQDN(t *testing.T) {
	b := newBed(t)
	a := b.startAgent()
	a.loadPolicy("shop.yaml", shopPolicy)

	// Before any DNS answer the allowed site's address is world: denied.
	from := len(a.events())
	if _, err := curl(b.api, "http://"+allowedIP.String()+"/"); err == nil {
		t.Error("api → an address of www.allowed.example before any DNS answer: allowed, want denied")
	}
	e := a.waitEvent("the unresolved address", from, func(e events.Event) bool { return e.Dst.IP == allowedIP })
	if e.Type != events.Drop || e.Dst.Workload != "world" || e.Dst.Kind != "world" {
		t.Errorf("event %+v, want a drop to world", e)
	}

	// Resolved from an allowed name: allowed.
	ips, err := dig(b.api, "api.allowed.example")
	if err != nil || !slices.Equal(ips, []string{allowedIP.String()}) {
		t.Fatalf("dig api.allowed.example: %q %v", ips, err)
	}
	if _, err := curl(b.api, "http://"+allowedIP.String()+"/"); err != nil {
		t.Errorf("api → %v after resolving api.allowed.example: %v", allowedIP, err)
	}

	// Resolved from another name (the DNS query itself is allowed):
	// denied, and named by that name.
	ips, err = dig(b.api, "cdn.other.example")
	if err != nil || !slices.Equal(ips, []string{otherIP.String()}) {
		t.Fatalf("dig cdn.other.example: %q %v", ips, err)
	}
	from = len(a.events())
	if _, err := curl(b.api, "http://"+otherIP.String()+"/"); err == nil {
		t.Errorf("api → %v (cdn.other.example): allowed, want denied", otherIP)
	}
	e = a.waitEvent("the other name's address", from, func(e events.Event) bool { return e.Dst.IP == otherIP })
	if e.Type != events.Drop || e.Dst.Workload != "cdn.other.example" || e.Dst.Kind != "fqdn" {
		t.Errorf("event %+v, want a drop to fqdn cdn.other.example", e)
	}

	// Never resolved: denied.
	if _, err := curl(b.api, "http://"+unknownIP.String()+"/"); err == nil {
		t.Errorf("api → %v (never resolved): allowed, want denied", unknownIP)
	}
	// The frontend may not use the allowed site: FQDN rules are per group.
	if _, err := curl(b.fe, "http://"+allowedIP.String()+"/"); err == nil {
		t.Error("frontend → www.allowed.example: allowed, want denied (the rule is the api's)")
	}
}

// TestRouted: the same enforcement in the routed topology (Calico style:
// no bridge, a /32 route per container), IPv4 and IPv6.
func TestRouted(t *testing.T) {
	b := newBedIn(t, testenv.Routed)
	a := b.startAgent()
	a.loadPolicy("shop.yaml", shopPolicy)
	if err := b.normalTraffic(); err != nil {
		t.Errorf("normal traffic: %v", err)
	}
	for _, db := range []string{hostPort(b.db.IP4, 6379), hostPort(b.db.IP6, 6379)} {
		if err := dialBlocked(b.fe, db); err != nil {
			t.Error(err)
		}
	}
	from := len(a.events())
	if _, err := curl(b.fe, "http://"+hostPort(b.api.IP6, 8080)+"/admin"); err == nil {
		t.Error("GET /admin over IPv6 succeeded")
	}
	e := a.waitEvent("GET /admin over IPv6", from, func(e events.Event) bool { return e.L7.Path == "/admin" })
	if e.Type != events.Drop || e.Src.Workload != "frontend" || e.Dst.Workload != "api" || !e.Dst.IP.Is6() {
		t.Errorf("event %+v", e)
	}
	if _, err := curl(b.fe, "http://"+hostPort(b.api.IP6, 8080)+"/users/3"); err != nil {
		t.Errorf("GET /users/3 over IPv6: %v", err)
	}
}
