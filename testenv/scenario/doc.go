// Package scenario is the world of Bulkhead's demo: a small shop running on
// a container node built with testenv, the real "bulkhead agent" guarding
// it, the normal traffic of the shop, and a set of attacks.
//
// The node (bridged, like Docker) holds five containers and one external
// host:
//
//	frontend     198.18.0.10  an HTTP client: the shop's web tier
//	api          198.18.0.11  a Go HTTP server on :8080; its handlers talk to
//	                          redis on db and charge orders at
//	                          https://payments.example.com, a name they
//	                          resolve through dns
//	db           198.18.0.12  a real redis-server on :6379, no persistence
//	dns          198.18.0.13  the testenv DNS server (miekg/dns) on :53
//	compromised  198.18.0.14  a forgotten debugging container an attacker
//	                          got into; it sends nothing while Bulkhead
//	                          learns
//	internet     198.19.1.2   "the internet": payments.example.com is
//	                          198.19.10.10, and 198.19.66.6 is an address
//	                          nobody resolved
//
// A run goes through steps that are plain methods of World, so the demo
// command (which narrates them), the integration test (which asserts them)
// and benchmarks compose the same pieces:
//
//	w, err := scenario.Build(ctx, scenario.Config{Bin: bin}) // defer w.Close()
//	w.StartAgent(ctx)                 // bulkhead agent in the node, learn mode
//	w.Learn(ctx, 3)                   // the shop's normal traffic
//	learned, _ := w.FetchGraph(ctx)   // GET /v1/graph, saved to a file
//	gen, _ := w.GeneratePolicy(ctx, learned) // bulkhead policy generate
//	w.LoadPolicy(ctx, gen)            // bulkhead policy reload
//	w.Protect(ctx)                    // bulkhead mode GROUP protect, every group
//	for _, a := range w.Attacks() {
//		o, _ := w.RunAttack(ctx, a) // blocked? reported? a normal order after
//	}
//	w.Graph(ctx)                      // bulkhead graph --format json
//	w.StopAgent(ctx)                  // SIGTERM; no rule may be left
//
// Every step returns structured results: what the client saw, what reached
// the target (read from the target namespace's /proc/net/snmp counters, or
// the api's own request log), and the agent's matching events from its
// event log. Nothing is inferred from the agent's word alone: an attack is
// blocked when its packets did not reach the target, and reported when the
// agent wrote an event about it.
//
// Files the agent needs (its configuration, the identity file naming the
// containers) are embedded templates (demo/*.tmpl) filled in with the run's
// temporary directory and namespace names.
package scenario
