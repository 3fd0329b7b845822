package metrics_test

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"bulkhead.dev/bulkhead/agent/metrics"
	"bulkhead.dev/bulkhead/agent/metrics/metricstest"
)

// gatherBulkhead returns the bulkhead_ families of a registry populated by
// the synthetic workload.
func gatherBulkhead(t *testing.T) []*dto.MetricFamily {
	t.Helper()
	m, _, _, err := metricstest.New(metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var out []*dto.MetricFamily
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "bulkhead_") {
			out = append(out, mf)
		}
	}
	return out
}

func TestPromlint(t *testing.T) {
	problems, err := promlint.NewWithMetricFamilies(gatherBulkhead(t)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// catalogEntry is what the tests compare between the catalog, the
// exposition and the docs.
type catalogEntry struct {
	Name   string
	Type   string
	Labels []string
}

func catalogEntries() []catalogEntry {
	var out []catalogEntry
	for _, f := range metrics.Families() {
		labels := slices.Clone(f.Labels)
		slices.Sort(labels)
		out = append(out, catalogEntry{f.Name, string(f.Type), labels})
	}
	slices.SortFunc(out, func(a, b catalogEntry) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// TestExportedMatchesCatalog checks that the synthetic workload exports
// every catalog family, with the catalog's type and labels, and nothing
// else under bulkhead_.
func TestExportedMatchesCatalog(t *testing.T) {
	var got []catalogEntry
	for _, mf := range gatherBulkhead(t) {
		labels := map[string]bool{}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		var names []string
		for l := range labels {
			names = append(names, l)
		}
		slices.Sort(names)
		got = append(got, catalogEntry{mf.GetName(), strings.ToLower(mf.GetType().String()), names})
	}
	if diff := cmp.Diff(catalogEntries(), got); diff != "" {
		t.Errorf("exported families differ from the catalog (-catalog +exported):\n%s", diff)
	}
}

// TestDocsMatchCatalog checks that docs/metrics.md documents every family
// of the catalog, with its type and labels, and no other.
func TestDocsMatchCatalog(t *testing.T) {
	f, err := os.Open("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []catalogEntry
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if !strings.HasPrefix(text, "| `bulkhead_") {
			continue
		}
		cells := strings.Split(strings.Trim(text, "|"), "|")
		if len(cells) != 4 {
			t.Errorf("docs/metrics.md:%d: want 4 cells (metric | type | labels | meaning), got %d", line, len(cells))
			continue
		}
		var labels []string
		for _, l := range strings.Split(cells[2], ",") {
			if l = strings.Trim(strings.TrimSpace(l), "`"); l != "" && l != "—" {
				labels = append(labels, l)
			}
		}
		slices.Sort(labels)
		got = append(got, catalogEntry{strings.Trim(strings.TrimSpace(cells[0]), "`"), strings.TrimSpace(cells[1]), labels})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b catalogEntry) int { return strings.Compare(a.Name, b.Name) })
	if diff := cmp.Diff(catalogEntries(), got); diff != "" {
		t.Errorf("docs/metrics.md differs from the catalog (-catalog +docs):\n%s", diff)
	}
}

func TestCatalogNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range metrics.Families() {
		for _, s := range f.Series() {
			if seen[s] {
				t.Errorf("series name %s appears twice in the catalog", s)
			}
			seen[s] = true
		}
		if f.Help == "" {
			t.Errorf("%s has no help text", f.Name)
		}
	}
}
