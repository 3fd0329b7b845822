package decide

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/dataplane"
)

func learnOnce(c *Config) { c.LearnOnce = true }

// TestLearnEveryRequest: in learn mode a keep-alive connection of an
// application with L7 attributes stays inspected by default, so that a
// request made later on it is learned too; with Config.LearnOnce (config
// learn.everyRequest: false) it is fast-pathed once its first request is
// recorded, and later requests are neither queued nor learned.
func TestLearnEveryRequest(t *testing.T) {
	tests := []struct {
		name         string
		opts         []harnessOpt
		first        dataplane.Verdict // HTTP's first request
		redisFirst   dataplane.Verdict // Redis's first command
		laterQueued  bool              // the later requests reach the agent
		edges        []string
		learnedEvent []string
	}{
		{
			name: "every request (default)", first: dataplane.InspectAll, redisFirst: dataplane.Inspect, laterQueued: true,
			edges: []string{
				`api→db tcp/6379 redis {"command":"FLUSHALL","count":1} {"command":"GET","count":1}`,
				`frontend→api tcp/8080 http {"method":"GET","path":"/admin","host":"api","count":1} {"method":"GET","path":"/users/{id}","host":"api","count":1}`,
			},
			learnedEvent: []string{
				`learned frontend:local→api:8080 tcp app=http method=GET path=/users/1 mode=learn verdict=inspect`,
				`learned api:local→db:6379 tcp app=redis command=GET mode=learn verdict=inspect`,
			},
		},
		{
			name: "first request only", opts: []harnessOpt{learnOnce}, first: dataplane.Allow, redisFirst: dataplane.Allow,
			edges: []string{
				`api→db tcp/6379 redis {"command":"GET","count":1}`,
				`frontend→api tcp/8080 http {"method":"GET","path":"/users/{id}","host":"api","count":1}`,
			},
			learnedEvent: []string{
				`learned frontend:local→api:8080 tcp app=http method=GET path=/users/1 mode=learn verdict=allow`,
				`learned api:local→db:6379 tcp app=redis command=GET mode=learn verdict=allow`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, shopPolicy, learnM, tt.opts...)
			web := h.tcp(frontend4, api4, 8080)
			web.handshake()
			if v := web.request(get("/users/1")); v != tt.first {
				t.Errorf("first HTTP request: %v, want %v", v, tt.first)
			}
			db := h.tcp(api4, db4, 6379)
			db.handshake()
			if v := db.request("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"); v != tt.redisFirst {
				t.Errorf("first Redis command: %v, want %v", v, tt.redisFirst)
			}
			before := h.queued
			for _, c := range []struct {
				c   *conn
				req string
			}{{web, get("/admin")}, {db, "*1\r\n$8\r\nFLUSHALL\r\n"}} {
				if v := c.c.request(c.req); v != dataplane.Accept {
					t.Errorf("later request %q: %v, want accept (by the agent or the kernel)", c.req, v)
				}
			}
			if queued := h.queued > before; queued != tt.laterQueued {
				t.Errorf("later requests queued to the agent: %v, want %v", queued, tt.laterQueued)
			}
			if diff := cmp.Diff(tt.edges, h.edges()); diff != "" {
				t.Errorf("learned edges (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.learnedEvent, h.eventLines()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLearnedValuesOutliveThePacket: the learned graph keeps a request's
// values after its packet's buffer is reused (the harness overwrites every
// payload once decided), also when a later connection repeats them.
func TestLearnedValuesOutliveThePacket(t *testing.T) {
	h := newHarness(t, shopPolicy, learnM)
	for range 2 {
		web := h.tcp(frontend4, api4, 8080)
		web.handshake()
		web.request(get("/users/1"))
		db := h.tcp(api4, db4, 6379)
		db.handshake()
		db.request("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
	}
	want := []string{
		`api→db tcp/6379 redis {"command":"GET","count":2}`,
		`frontend→api tcp/8080 http {"method":"GET","path":"/users/{id}","host":"api","count":2}`,
	}
	if diff := cmp.Diff(want, h.edges()); diff != "" {
		t.Errorf("learned edges (-want +got):\n%s", diff)
	}
}
