package agent

import (
	"context"
	"slices"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/dataplane"
)

// TestLearnEveryRequestConfig: learn.everyRequest reaches the decisions. In
// learn mode (no policy) an HTTP connection's first request keeps the
// connection queued by default (its later requests are learned too); with
// learn.everyRequest false the first request fast-paths it (Allow).
func TestLearnEveryRequestConfig(t *testing.T) {
	for _, tt := range []struct {
		everyRequest bool
		want         []dataplane.Verdict
	}{
		{true, []dataplane.Verdict{dataplane.Inspect, dataplane.InspectAll}},
		{false, []dataplane.Verdict{dataplane.Allow}},
	} {
		cfg := testConfig(t, t.TempDir())
		cfg.Learn.EveryRequest = tt.everyRequest
		dp := newFakeDataplane()
		a, err := New(fakeOptions(cfg, nil, dp, newFakeContainers(container("veth-fe", "bh-t-frontend", feIP.String()), container("veth-api", "bh-t-api", apiIP.String()))))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		req := []byte("GET /users/1 HTTP/1.1\r\nHost: api\r\n\r\n")
		for _, p := range []*dataplane.Packet{
			{TCPFlags: dataplane.TCPSyn, Seq: 1},
			{TCPFlags: dataplane.TCPAck, Seq: 2},
			{TCPFlags: dataplane.TCPPsh | dataplane.TCPAck, Seq: 2, Payload: req},
		} {
			p.Family, p.Proto, p.Src, p.Dst, p.SrcPort, p.DstPort = dataplane.IPv4, dataplane.ProtoTCP, feIP, apiIP, 41000, 8080
			p.Len, p.Time = 40+len(p.Payload), now
			v := dp.cfg.Decider.Decide(p)
			if len(p.Payload) > 0 && !slices.Contains(tt.want, v) {
				t.Errorf("learn.everyRequest %v: first request %v, want %v", tt.everyRequest, v, tt.want)
			}
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
