package graphview

import "bulkhead.dev/bulkhead/l7"

// Options tune Build. Zero fields take the defaults in brackets; the
// grouping thresholds are those of `bulkhead policy generate`, so the
// picture's external nodes are the groups a generated policy would have.
type Options struct {
	// Workload keeps only the edges with this workload at either end.
	Workload string
	// Apps keeps only the services of these apps (empty: every app).
	Apps []l7.App

	// DNSThreshold: this many external names (or DNS and TLS names in L7
	// summaries) under one domain become "*.domain". [5]
	DNSThreshold int
	// AddrThreshold: this many external addresses in one /24 (IPv4) or /64
	// (IPv6) become one CIDR node. [4]
	AddrThreshold int
	// PathThreshold: more distinct last path segments than this under one
	// parent path become "{param}" in HTTP summaries. [8]
	PathThreshold int
	// PortThreshold: more distinct ports than this in one service collapse
	// into one range (at most 1,024 ports wide) or "any". [8]
	PortThreshold int
	// MaxExternal caps the external nodes (FQDN, CIDR and address nodes):
	// past it, the least used ones (by connections) fold into world.
	// Negative: every external peer is world. [16]
	MaxExternal int
	// MaxL7Len caps the length, in characters, of a service's L7 summary;
	// the items that do not fit are counted ("+N more"). [60]
	MaxL7Len int
	// MaxMembers caps the members listed per external node. [32]
	MaxMembers int
}

// DefaultOptions are the values used for zero fields.
var DefaultOptions = Options{DNSThreshold: 5, AddrThreshold: 4, PathThreshold: 8, PortThreshold: 8,
	MaxExternal: 16, MaxL7Len: 60, MaxMembers: 32}

// portSpan is the widest range many ports collapse into before "any".
const portSpan = 1024

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.DNSThreshold, DefaultOptions.DNSThreshold)
	def(&o.AddrThreshold, DefaultOptions.AddrThreshold)
	def(&o.PathThreshold, DefaultOptions.PathThreshold)
	def(&o.PortThreshold, DefaultOptions.PortThreshold)
	def(&o.MaxL7Len, DefaultOptions.MaxL7Len)
	def(&o.MaxMembers, DefaultOptions.MaxMembers)
	if o.MaxExternal == 0 {
		o.MaxExternal = DefaultOptions.MaxExternal
	}
	return o
}
