// Package flowtable tracks the flows the agent sees: 5-tuple → flow state
// (identities, application, L7 progress, verdict, counters, and a slot for
// the wiring's own per-flow state).
//
// Both directions of a connection map to one flow: the Key is normalised
// (the lower address/port first) and Track reports the direction of each
// packet relative to the client, the side that opened the flow.
//
// The table is bounded. It holds at most Config.MaxFlows flows, spread over
// shards each with its own lock and its own share of the bound. A flow
// leaves the table when it has been idle longer than the timeout of its
// class (TCP opening, established or closing; UDP; ICMP; other), when the
// wiring deletes it (its container went away; a flush), or when room is
// needed for a new flow: then the least recently
// used flow that is not an established TCP connection goes first, and an
// established connection only when there is nothing else, so that a flood
// of new flows cannot push out the connections already running. Evictions
// are counted by reason; an eviction callback lets the wiring release what
// it attached to the flow.
//
// Memory: flows live in slabs of fixed-size chunks that are reused through a
// free list (no heap object per flow); the measured cost is about 400 bytes
// per tracked flow, index included (see TestMemoryPerFlow), so the default
// 262,144 flows stay under 128 MiB.
//
// Concurrency: every method is safe for concurrent use. Track and Lookup run
// the caller's function with the flow's shard locked: that serialises all
// decisions about one flow, and the function must be short and must not do
// I/O or block. Track and Lookup of an existing flow do not allocate.
package flowtable
