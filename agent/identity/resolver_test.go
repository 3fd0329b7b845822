package identity

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolverLifecycle(t *testing.T) {
	ns := &NetNSNames{StripPrefixes: []string{"bh-demo-"}}
	r := NewResolver([]Source{ns}, nil, nil)
	a := netip.MustParseAddr("198.18.0.10")
	b := netip.MustParseAddr("198.18.0.11")

	r.Add(Container{HostIf: "veth1", NetNS: "bh-demo-web", Addrs: []netip.Addr{a}})
	if got := r.Addr(a).Name; got != "web" {
		t.Fatalf("Addr(a) = %q, want web", got)
	}
	// The container's address changes (same veth): the old address is freed.
	r.Add(Container{HostIf: "veth1", NetNS: "bh-demo-web", Addrs: []netip.Addr{b}})
	if got := r.Addr(a).Kind; got != World {
		t.Errorf("old address still local: %v", got)
	}
	// Another container takes over the address; removing it gives the
	// address back to the first holder.
	r.Add(Container{HostIf: "veth2", NetNS: "bh-demo-job", Addrs: []netip.Addr{b}})
	if got := r.Addr(b).Name; got != "job" {
		t.Errorf("Addr(b) = %q, want job (latest claim)", got)
	}
	if got, ok := r.Remove("veth2"); !ok || got.Name != "job" {
		t.Errorf("Remove(veth2) = %+v, %v", got, ok)
	}
	if got := r.Addr(b).Name; got != "web" {
		t.Errorf("Addr(b) after removal = %q, want web", got)
	}
	if _, ok := r.Remove("veth2"); ok {
		t.Error("second Remove succeeded")
	}
	if id, ok := r.Local("veth1"); !ok || id.Name != "web" {
		t.Errorf("Local(veth1) = %+v, %v", id, ok)
	}
	if _, ok := r.Local("veth9"); ok {
		t.Error("Local(unknown) found something")
	}
	want := []LocalWorkload{{
		Container: Container{HostIf: "veth1", NetNS: "bh-demo-web", Addrs: []netip.Addr{b}},
		Identity:  Identity{Kind: Local, Name: "web", Labels: map[string]string{LabelNetNS: "bh-demo-web"}, Source: "netns"},
	}}
	if diff := cmp.Diff(want, r.Locals(), cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
		t.Errorf("Locals (-want +got):\n%s", diff)
	}
}

func TestResolverInterface(t *testing.T) {
	r := NewResolver([]Source{&NetNSNames{}}, nil, nil)
	a := netip.MustParseAddr("198.18.0.10")
	r.Add(Container{HostIf: "veth1", HostIndex: 7, NetNS: "web", Addrs: []netip.Addr{a}})
	id, addrs, ok := r.Interface(7)
	if !ok || id.Name != "web" || len(addrs) != 1 || addrs[0] != a {
		t.Errorf("Interface(7) = %+v %v %v", id, addrs, ok)
	}
	for _, idx := range []int{0, -1, 8} {
		if _, _, ok := r.Interface(idx); ok {
			t.Errorf("Interface(%d) found something", idx)
		}
	}
	if n := testing.AllocsPerRun(100, func() { r.Interface(7) }); n != 0 {
		t.Errorf("Interface allocates %v times", n)
	}
	r.Remove("veth1")
	if _, _, ok := r.Interface(7); ok {
		t.Error("Interface(7) after the container went")
	}
}

func TestResolverSetSources(t *testing.T) {
	r := NewResolver([]Source{&NetNSNames{}}, nil, nil)
	r.Add(Container{HostIf: "veth1", NetNS: "bh-demo-web"})
	r.Add(Container{HostIf: "veth2", NetNS: "other"})
	changes := r.SetSources([]Source{&NetNSNames{StripPrefixes: []string{"bh-demo-"}}}, nil)
	if len(changes) != 1 || changes[0].HostIf != "veth1" || changes[0].From.Name != "bh-demo-web" || changes[0].To.Name != "web" {
		t.Errorf("changes = %+v", changes)
	}
	if id, _ := r.Local("veth1"); id.Name != "web" {
		t.Errorf("Local(veth1) = %q after SetSources", id.Name)
	}
}
