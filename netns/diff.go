package netns

// diff returns the events that turn the container set old into new, both
// keyed by node-side ifindex: Removed first, then Added, then Updated, each
// sorted by HostIf, so a consumer tears down before it sets up.
//
// A link that kept its ifindex but changed its name counts as a different
// container (Removed under the old name, Added under the new one): the
// dataplane keys its rules by interface name. Any other change (bridge,
// namespace mapping, peer interface, addresses) is an Update.
func diff(old, new map[int]Container) []Event {
	var removed, added, updated []Container
	for idx, o := range old {
		n, ok := new[idx]
		switch {
		case !ok:
			removed = append(removed, o)
		case n.HostIf != o.HostIf:
			removed = append(removed, o)
			added = append(added, n)
		case !n.Equal(o):
			updated = append(updated, n)
		}
	}
	for idx, n := range new {
		if _, ok := old[idx]; !ok {
			added = append(added, n)
		}
	}
	events := make([]Event, 0, len(removed)+len(added)+len(updated))
	for _, group := range []struct {
		t  EventType
		cs []Container
	}{{Removed, removed}, {Added, added}, {Updated, updated}} {
		sortContainers(group.cs)
		for _, c := range group.cs {
			events = append(events, Event{Type: group.t, Container: c.clone()})
		}
	}
	return events
}
