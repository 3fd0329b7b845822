package benchkit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReplaceSection(t *testing.T) {
	for _, tc := range []struct {
		name, doc, title, body, want string
	}{
		{
			name:  "replace between sections",
			doc:   "# Benchmarks\n\n## Dataplane\n\nold dp\n\n## Policy evaluation\n\nold policy\n\n## Agent\n\nagent\n",
			title: "Policy evaluation", body: "new table\n",
			want: "# Benchmarks\n\n## Dataplane\n\nold dp\n\n## Policy evaluation\n\nnew table\n\n## Agent\n\nagent\n",
		},
		{
			name:  "replace the last section",
			doc:   "# Benchmarks\n\n## Dataplane\n\nold\n\n## L7 engine\n\nkeep\n",
			title: "L7 engine", body: "new\n\n\n",
			want: "# Benchmarks\n\n## Dataplane\n\nold\n\n## L7 engine\n\nnew\n",
		},
		{
			name:  "append",
			doc:   "# Benchmarks\n\n## Dataplane\n\ndp\n",
			title: "Policy evaluation", body: "t\n",
			want: "# Benchmarks\n\n## Dataplane\n\ndp\n\n## Policy evaluation\n\nt\n",
		},
		{
			name:  "a subsection of the same title is not the section",
			doc:   "# Benchmarks\n\n## L7 engine\n\n### Agent\n\nsub\n",
			title: "Agent", body: "t",
			want: "# Benchmarks\n\n## L7 engine\n\n### Agent\n\nsub\n\n## Agent\n\nt\n",
		},
		{
			name: "new file", title: "P", body: "t\n",
			want: "# Benchmarks\n\nEach section is written by its `make bench-*` target.\n\n## P\n\nt\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, ReplaceSection(tc.doc, tc.title, tc.body)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestRecordSubsection(t *testing.T) {
	const doc = "# Benchmarks\n\n## Agent\n\n### Parts\n\nold parts\n\n### End to end\n\nold e2e\n\n## Other\n\nkeep\n"
	for _, tc := range []struct {
		name, doc, section, sub, want string
	}{
		{
			name: "replace the first", doc: doc, section: "Agent", sub: "Parts",
			want: "# Benchmarks\n\n## Agent\n\n### Parts\n\nnew\n\n### End to end\n\nold e2e\n\n## Other\n\nkeep\n",
		},
		{
			name: "replace the last", doc: doc, section: "Agent", sub: "End to end",
			want: "# Benchmarks\n\n## Agent\n\n### Parts\n\nold parts\n\n### End to end\n\nnew\n\n## Other\n\nkeep\n",
		},
		{
			name: "append to the section", doc: doc, section: "Agent", sub: "More",
			want: "# Benchmarks\n\n## Agent\n\n### Parts\n\nold parts\n\n### End to end\n\nold e2e\n\n### More\n\nnew\n\n## Other\n\nkeep\n",
		},
		{
			name: "new section", doc: doc, section: "New", sub: "S",
			want: doc + "\n## New\n\n### S\n\nnew\n",
		},
		{
			name: "new file", section: "Agent", sub: "Parts",
			want: "# Benchmarks\n\nEach section is written by its `make bench-*` target.\n\n## Agent\n\n### Parts\n\nnew\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
			if tc.doc != "" {
				if err := os.WriteFile(path, []byte(tc.doc), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := RecordSubsection(path, tc.section, tc.sub, "new\n"); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, string(got)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestRecordSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := os.WriteFile(path, []byte("# Benchmarks\n\n## Dataplane\n\nold\n\n## L7 engine\n\nkeep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := RecordSection(path, "Dataplane", "new table\n"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "# Benchmarks\n\n## Dataplane\n\nnew table\n\n## L7 engine\n\nkeep\n"
	if d := cmp.Diff(want, string(got)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if err := RecordSection(filepath.Join(path, "not-a-dir"), "Dataplane", "t"); err == nil {
		t.Error("recording under a file: no error")
	}
}
