package modes

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzUnmarshalJSON feeds the modes file's decoder (the "modes" item of the
// state directory) arbitrary bytes, against a table before and after its
// policy is installed. It must never panic; a refused file leaves the
// table as it was; an accepted one saves to a form that restores to
// itself.
func FuzzUnmarshalJSON(f *testing.F) {
	for _, s := range []string{
		`{"overrides":[]}`,
		`{"overrides":[{"group":"api","mode":"protect","policy_mode":"learn","source":"operator","since":"2025-03-01T12:00:00Z"},{"group":"web","mode":"protect","policy_mode":"monitor","source":"promotion","since":"2025-03-01T12:00:00Z"}]}`,
		`{"overrides":[{"group":"api","mode":"monitor","policy_mode":"learn","source":"operator"}]}`,
		`{"overrides":[{"group":"a","mode":"protect","policy_mode":"learn","source":"hacker"}]}`,
		`{"overrides":[{"group":"a","mode":"protect","policy_mode":"learn","source":"operator"},{"group":"a","mode":"learn","policy_mode":"learn","source":"operator"}]}`,
		`{"overrides":null}`, `null`, `{`, `[]`, `{"overrides":[{}]}`, `{"overrides":[{"group":"a","mode":7}]}`,
		`{"overrides":[{"group":"a","mode":"protect","policy_mode":"learn","source":"operator","since":"not a time"}]}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, withPolicy bool) {
		tab := New(Learn, nil)
		if withPolicy {
			tab.SetPolicy(Monitor, map[string]Mode{"api": Learn, "web": Unset, "db": Protect})
		}
		before, err := tab.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		list := tab.List()
		if err := tab.UnmarshalJSON(data); err != nil {
			after, _ := tab.MarshalJSON()
			if diff := cmp.Diff(string(before), string(after)); diff != "" || !cmp.Equal(list, tab.List()) {
				t.Fatalf("a refused file (%v) changed the table (-before +after):\n%s", err, diff)
			}
			return
		}
		for _, e := range tab.List() {
			if e.Mode == Unset || e.PolicyMode == Unset || (e.Source != FromPolicy && e.Source != FromOperator && e.Source != FromPromotion) {
				t.Fatalf("restored entry %+v", e)
			}
		}
		saved, err := tab.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		again := New(Learn, nil)
		if withPolicy {
			again.SetPolicy(Monitor, map[string]Mode{"api": Learn, "web": Unset, "db": Protect})
		}
		if err := again.UnmarshalJSON(saved); err != nil {
			t.Fatalf("the saved form %s does not restore: %v", saved, err)
		}
		resaved, _ := again.MarshalJSON()
		if diff := cmp.Diff(string(saved), string(resaved)); diff != "" {
			t.Fatalf("save → restore → save differs (-first +second):\n%s", diff)
		}
	})
}
