package benchkit

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		in := append([]float64(nil), tc.in...)
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if d := cmp.Diff(in, tc.in); d != "" {
			t.Errorf("Median changed its input (-before +after):\n%s", d)
		}
	}
}

func TestTarget(t *testing.T) {
	for _, tc := range []struct {
		ratio, limit float64
		atLeast      bool
		wanted       string
		met          bool
	}{
		{0.95, 0.9, true, "≥ 0.90× bare", true},
		{0.85, 0.9, true, "≥ 0.90× bare", false},
		{1.1, 1.2, false, "≤ 1.20× bare", true},
		{1.3, 1.2, false, "≤ 1.20× bare", false},
	} {
		wanted, met := Target(tc.ratio, tc.limit, tc.atLeast)
		if wanted != tc.wanted || met != tc.met {
			t.Errorf("Target(%v, %v, %v) = %q, %v; want %q, %v", tc.ratio, tc.limit, tc.atLeast, wanted, met, tc.wanted, tc.met)
		}
	}
	if Verdict(true) != "met" || Verdict(false) != "NOT met" {
		t.Errorf("Verdict: %q, %q", Verdict(true), Verdict(false))
	}
}

func TestRecorded(t *testing.T) {
	now := time.Date(2026, 1, 2, 23, 30, 0, 0, time.FixedZone("x", -3600))
	if d := cmp.Diff("Recorded 2026-01-03 with:\n\n    make x\n\n", Recorded(now, "make x")); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
