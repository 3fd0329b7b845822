package dataplane

import "testing"

func TestMarksState(t *testing.T) {
	for _, tc := range []struct {
		mark uint32
		want ConnState
		name string
	}{
		{0, ConnUndecided, "undecided"},
		{0x0000ffff, ConnUndecided, "undecided"}, // other software's bits
		{0x00100000, ConnAllowed, "allowed"},
		{0x00200001, ConnDenied, "denied"},
		{0x00300000, ConnInspected, "inspected"},
		{0x00400000, ConnInspectedAll, "inspected-all"},
		{0x00500000, ConnUnknown, "unknown"},
	} {
		got := DefaultMarks.State(tc.mark)
		if got != tc.want || got.String() != tc.name {
			t.Errorf("State(%#x) = %v (%d), want %v", tc.mark, got, got, tc.name)
		}
	}
}

func TestVerdictNames(t *testing.T) {
	want := []string{"accept", "drop", "allow", "deny", "inspect", "inspect-all"}
	for v := Verdict(0); v < numVerdicts; v++ {
		if v.String() != want[v] {
			t.Errorf("Verdict(%d) = %q, want %q", v, v.String(), want[v])
		}
	}
	if got := numVerdicts.String(); got != "Verdict(6)" {
		t.Errorf("out of range verdict: %q", got)
	}
}

func TestMarksValue(t *testing.T) {
	for v, want := range map[Verdict]uint32{Accept: 0, Drop: 0, Allow: 0x00100000, Deny: 0x00200000, Inspect: 0x00300000, InspectAll: 0x00400000} {
		if got := DefaultMarks.Value(v); got != want {
			t.Errorf("Value(%v) = %#x, want %#x", v, got, want)
		}
		if want != 0 && DefaultMarks.State(want) == ConnUndecided {
			t.Errorf("State(Value(%v)) is undecided", v)
		}
	}
}
