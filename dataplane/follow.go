package dataplane

import (
	"context"

	"bulkhead.dev/bulkhead/netns"
)

// VethOf returns the Veth of a container found by netns.
func VethOf(c netns.Container) Veth {
	return Veth{Name: c.HostIf, Bridge: c.Bridge, Addrs: c.Addrs}
}

// HandleEvent applies one netns event (of a netns.Watcher): attaches an
// added or updated container, detaches a removed one. A container that
// cannot be attached (its veth vanished, an address cannot be used) is
// logged with the error naming it; the caller carries on with the others.
func (d *Dataplane) HandleEvent(ctx context.Context, ev netns.Event) {
	c := ev.Container
	switch ev.Type {
	case netns.Added, netns.Updated:
		if err := d.Attach(ctx, VethOf(c)); err != nil {
			d.log.Warn("dataplane: cannot attach container", "veth", c.HostIf, "netns", c.NetNS, "err", err)
		}
	case netns.Removed:
		if err := d.Detach(ctx, c.HostIf); err != nil {
			d.log.Warn("dataplane: cannot detach container", "veth", c.HostIf, "err", err)
		}
	}
}
