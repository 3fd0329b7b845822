package decide

import (
	"strings"
	"testing"

	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/policy"
)

// TestOutOfWindowBypass: a client sends, before its real request, a fake
// allowed request far outside the TCP window (the server drops it), then
// the forbidden request at the real sequence number. The agent gives the
// l7 engine the ISN of the SYN it saw, so the fake segment cannot pass for
// the start of the stream: in protect mode the connection is denied and
// the forbidden request never gets through.
func TestOutOfWindowBypass(t *testing.T) {
	h := newHarness(t, shopPolicy, protectM)
	c := h.tcp(frontend4, api4, 8080)
	if v := c.handshake(); v != dataplane.Accept {
		t.Fatalf("SYN: %v, want accept", v)
	}
	real := c.cseq
	c.cseq = real + 1<<20 // 1 MiB ahead: outside any window the server offered
	fake := c.request(get("/users/1"))
	c.cseq = real
	if v := c.request(get("/admin")); v != dataplane.Deny {
		t.Fatalf("forbidden request after a fake out-of-window one (fake: %v): %v, want deny", fake, v)
	}
	if fake != dataplane.Deny {
		t.Errorf("fake segment: %v, want deny (the client's stream is no longer trusted)", fake)
	}
	evs := h.eventLines()
	if len(evs) != 1 || !strings.Contains(evs[0], "verdict=deny") || !strings.Contains(evs[0], "segment outside the TCP window") {
		t.Errorf("events %q, want one drop naming the out-of-window segment", evs)
	}
	if h.d.Stats().Inspecting != 0 {
		t.Errorf("inspection state not released: %d flows hold some", h.d.Stats().Inspecting)
	}
}

// TestHandshakeOnly: a connection that closes before carrying anything
// (a health check, a port probe) is neither reported nor left holding
// inspection state, although the agent began tracking its stream at the
// SYN.
func TestHandshakeOnly(t *testing.T) {
	for _, mode := range []policy.Mode{protectM, monitorM} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHarness(t, shopPolicy, mode)
			c := h.tcp(frontend4, api4, 8080)
			c.handshake()
			if n := h.d.Stats().Inspecting; n != 1 {
				t.Errorf("after the handshake: %d flows inspected, want 1", n)
			}
			if v := c.send(true, dataplane.TCPFin|dataplane.TCPAck, ""); v != dataplane.Accept {
				t.Errorf("FIN: %v, want accept", v)
			}
			if evs := h.eventLines(); len(evs) != 0 {
				t.Errorf("events %q, want none", evs)
			}
			if n := h.d.Stats().Inspecting; n != 0 {
				t.Errorf("after the FIN: %d flows inspected, want 0", n)
			}
		})
	}
}
