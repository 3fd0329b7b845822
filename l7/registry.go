package l7

import (
	"fmt"
	"sort"
)

// protocols holds every registered Protocol, sorted by App then Transport
// so that detection order never depends on file or init order.
var protocols []*Protocol

// register adds p to the engine. Each protocol file calls it from init.
// It panics on an incomplete or duplicate registration so that a mistake
// fails every test.
func register(p *Protocol) {
	if p.App == Unknown || p.App >= numApps || p.Detect == nil || p.New == nil ||
		(p.Transport != TCP && p.Transport != UDP) {
		panic(fmt.Sprintf("l7: incomplete protocol registration for %v", p.App))
	}
	for _, q := range protocols {
		if q.App == p.App && q.Transport == p.Transport {
			panic(fmt.Sprintf("l7: %v registered twice for transport %d", p.App, p.Transport))
		}
	}
	protocols = append(protocols, p)
	sort.SliceStable(protocols, func(i, j int) bool {
		if protocols[i].App != protocols[j].App {
			return protocols[i].App < protocols[j].App
		}
		return protocols[i].Transport < protocols[j].Transport
	})
}

// Protocols returns the registered protocols in detection order. The slice
// and its elements must not be modified.
func Protocols() []*Protocol { return protocols }
