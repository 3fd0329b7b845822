package agent

import (
	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/agent/identity"
)

// ContainerAdded records a container that appeared (or whose addresses
// changed) and returns its identity. The wiring translates netns events.
func (a *Agent) ContainerAdded(c identity.Container) identity.Identity {
	id := a.resolver.Add(c)
	a.decider.IdentitiesChanged()
	a.log.Info("agent: container", "interface", c.HostIf, "netns", c.NetNS, "workload", id.Name, "source", id.Source, "addrs", c.Addrs)
	return id
}

// ContainerRemoved forgets a container that went away and removes its
// flows from the flow table; it returns how many flows went.
func (a *Agent) ContainerRemoved(hostIf string) int {
	lw, ok := a.resolver.Remove(hostIf)
	if !ok {
		return 0
	}
	a.decider.IdentitiesChanged()
	addrs := map[[16]byte]bool{}
	for _, ad := range lw.Addrs {
		addrs[ad.As16()] = true
	}
	n := a.flows.DeleteIf(func(f *flowtable.Flow) bool {
		return addrs[f.Key.A] || addrs[f.Key.B]
	}, flowtable.EndpointGone)
	a.log.Info("agent: container gone", "interface", hostIf, "workload", lw.Name, "flows_removed", n)
	return n
}
