package modes

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    Mode
		wantErr bool
	}{
		{"learn", Learn, false}, {"monitor", Monitor, false}, {"protect", Protect, false},
		{"", Unset, true}, {"Protect", Unset, true}, {"enforce", Unset, true},
	} {
		got, err := Parse(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
	if got := Strictest(Monitor, Protect); got != Protect {
		t.Errorf("Strictest = %v", got)
	}
	if got := Strictest(Learn, Unset); got != Learn {
		t.Errorf("Strictest = %v", got)
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestTableOverrides(t *testing.T) {
	clk := &fakeClock{t0}
	tab := New(Unset, clk.Now)
	if got := tab.Default(); got != Learn {
		t.Fatalf("Default = %v, want learn", got)
	}
	tab.SetPolicy(Learn, map[string]Mode{"api": Unset, "db": Monitor})

	if _, err := tab.Set("nope", Protect, FromOperator); !errors.Is(err, ErrUnknownGroup) {
		t.Fatalf("Set(nope) err = %v, want ErrUnknownGroup", err)
	} else if want := `modes: set "nope": unknown group "nope"`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	clk.t = t0.Add(time.Minute)
	c, err := tab.Set("api", Protect, FromOperator)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Change{Group: "api", From: Learn, To: Protect, Source: FromOperator}, c); diff != "" {
		t.Errorf("change (-want +got):\n%s", diff)
	}
	gen := tab.Generation()

	// Same policy mode for api: the override survives the reload; db's
	// policy mode changes.
	clk.t = t0.Add(2 * time.Minute)
	changes := tab.SetPolicy(Learn, map[string]Mode{"api": Learn, "db": Protect, "new": Unset})
	if diff := cmp.Diff([]Change{{Group: "db", From: Monitor, To: Protect, Source: FromPolicy}}, changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if tab.Generation() == gen {
		t.Error("generation did not change")
	}
	want := []Entry{
		{Group: "api", Mode: Protect, PolicyMode: Learn, Source: FromOperator, Since: t0.Add(time.Minute)},
		{Group: "db", Mode: Protect, PolicyMode: Protect, Source: FromPolicy, Since: t0.Add(2 * time.Minute)},
		{Group: "new", Mode: Learn, PolicyMode: Learn, Source: FromPolicy},
	}
	if diff := cmp.Diff(want, tab.List()); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}

	// The policy now says monitor for api: the file wins.
	changes = tab.SetPolicy(Learn, map[string]Mode{"api": Monitor})
	if diff := cmp.Diff([]Change{{Group: "api", From: Protect, To: Monitor, Source: FromPolicy}}, changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if m, ok := tab.Mode("api"); !ok || m != Monitor {
		t.Errorf("Mode(api) = %v, %v", m, ok)
	}
	if _, ok := tab.Mode("db"); ok {
		t.Error("db still known after it left the policy")
	}

	// Setting the file's own mode back clears the override.
	if _, err := tab.Set("api", Protect, FromOperator); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Set("api", Monitor, FromOperator); err != nil {
		t.Fatal(err)
	}
	if got := tab.List()[0].Source; got != FromPolicy {
		t.Errorf("source after setting the policy mode back = %q, want policy", got)
	}
	if _, err := tab.Set("api", Unset, FromOperator); err == nil {
		t.Error("Set(Unset) succeeded")
	}
}

func TestTablePersistence(t *testing.T) {
	clk := &fakeClock{t0}
	a := New(Learn, clk.Now)
	a.SetPolicy(Learn, map[string]Mode{"api": Unset, "db": Unset, "web": Monitor})
	if _, err := a.Set("api", Protect, FromOperator); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Set("web", Protect, FromPromotion); err != nil {
		t.Fatal(err)
	}
	data, err := a.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"overrides":[{"group":"api","mode":"protect","policy_mode":"learn","source":"operator","since":"2025-03-01T12:00:00Z"},{"group":"web","mode":"protect","policy_mode":"monitor","source":"promotion","since":"2025-03-01T12:00:00Z"}]}`
	if diff := cmp.Diff(wantJSON, string(data)); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}

	// Restored before the policy loads; web's policy mode changed meanwhile.
	b := New(Learn, clk.Now)
	if err := b.UnmarshalJSON(data); err != nil {
		t.Fatal(err)
	}
	again, _ := b.MarshalJSON()
	if diff := cmp.Diff(wantJSON, string(again)); diff != "" {
		t.Errorf("pending overrides are saved again (-want +got):\n%s", diff)
	}
	b.SetPolicy(Learn, map[string]Mode{"api": Unset, "web": Learn})
	want := []Entry{
		{Group: "api", Mode: Protect, PolicyMode: Learn, Source: FromOperator, Since: t0},
		{Group: "web", Mode: Learn, PolicyMode: Learn, Source: FromPolicy},
	}
	if diff := cmp.Diff(want, b.List()); diff != "" {
		t.Errorf("restored (-want +got):\n%s", diff)
	}

	for _, tt := range []struct{ in, want string }{
		{`{`, "modes: restore: unexpected end of JSON input"},
		{`{"overrides":[{"group":"","mode":"learn","policy_mode":"learn","source":"operator"}]}`, "no group"},
		{`{"overrides":[{"group":"a","mode":"bogus"}]}`, `unknown mode "bogus"`},
		{`{"overrides":[{"group":"a","policy_mode":"learn","source":"operator"}]}`, "no mode"},
		{`{"overrides":[{"group":"a","mode":"protect","source":"operator"}]}`, "no policy mode"},
		{`{"overrides":[{"group":"a","mode":"protect","policy_mode":"learn","source":"policy"}]}`, `source "policy" (want operator or promotion)`},
		{`{"overrides":[{"group":"a","mode":"protect","policy_mode":"learn","source":"hacker"}]}`, `source "hacker" (want operator or promotion)`},
		{`{"overrides":[{"group":"a","mode":"protect","policy_mode":"learn","source":"operator"},{"group":"a","mode":"monitor","policy_mode":"learn","source":"operator"}]}`, `group "a" has two overrides`},
		// A good override before a bad one is not applied either.
		{`{"overrides":[{"group":"a","mode":"protect","policy_mode":"learn","source":"operator"},{"group":"b","mode":"protect","policy_mode":"learn","source":"hacker"}]}`, `source "hacker"`},
	} {
		tab := New(Learn, nil)
		tab.SetPolicy(Learn, map[string]Mode{"a": Learn})
		before := tab.List()
		err := tab.UnmarshalJSON([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("UnmarshalJSON(%s) = %v, want an error with %q", tt.in, err, tt.want)
		}
		if diff := cmp.Diff(before, tab.List()); diff != "" {
			t.Errorf("UnmarshalJSON(%s) changed the table although it failed (-before +after):\n%s", tt.in, diff)
		}
	}
}
