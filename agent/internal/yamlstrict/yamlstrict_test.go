package yamlstrict

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type inner struct {
	Flows int           `yaml:"flows"`
	Idle  time.Duration `yaml:"idle"`
	On    bool          `yaml:"on"`
}

type item struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
	IPs    []string          `yaml:"ips"`
}

type doc struct {
	Node     string           `yaml:"node"`
	Limits   inner            `yaml:"limits"`
	Ptr      *inner           `yaml:"ptr"`
	Items    []item           `yaml:"items"`
	ByName   map[string]inner `yaml:"byName"`
	Hidden   int              `yaml:"-"`
	Untagged int
}

func defaults() doc {
	return doc{Node: "def", Limits: inner{Flows: 7, Idle: time.Second}}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    doc
		wantErr []string // each error line, in order
	}{
		{name: "empty keeps defaults", in: "", want: defaults()},
		{name: "comments only", in: "# nothing\n", want: defaults()},
		{
			name: "merge onto defaults",
			in:   "limits:\n  idle: 5m\n",
			want: doc{Node: "def", Limits: inner{Flows: 7, Idle: 5 * time.Minute}},
		},
		{
			name: "null keeps default",
			in:   "node:\nlimits:\n",
			want: defaults(),
		},
		{
			name: "pointer, list and map of structs",
			in:   "ptr: {flows: 3}\nitems:\n  - name: a\n    labels: {x: y}\n    ips: [1.2.3.4]\nbyName:\n  k: {on: true}\n",
			want: func() doc {
				d := defaults()
				d.Ptr = &inner{Flows: 3}
				d.Items = []item{{Name: "a", Labels: map[string]string{"x": "y"}, IPs: []string{"1.2.3.4"}}}
				d.ByName = map[string]inner{"k": {On: true}}
				return d
			}(),
		},
		{
			name: "alias",
			in:   "a: &x {flows: 9}\n",
			wantErr: []string{
				"line 1: a: unknown field (known fields: byName, items, limits, node, ptr)",
			},
		},
		{
			name: "unknown fields everywhere, all reported",
			in:   "nod: x\nlimits:\n  flowz: 1\nitems:\n  - nme: a\nHidden: 1\nUntagged: 2\n",
			wantErr: []string{
				"line 1: nod: unknown field (known fields: byName, items, limits, node, ptr)",
				"line 3: limits.flowz: unknown field (known fields: flows, idle, on)",
				"line 5: items[0].nme: unknown field (known fields: ips, labels, name)",
				"line 6: Hidden: unknown field (known fields: byName, items, limits, node, ptr)",
				"line 7: Untagged: unknown field (known fields: byName, items, limits, node, ptr)",
			},
		},
		{
			name:    "duplicate key",
			in:      "node: a\nnode: b\n",
			wantErr: []string{"line 2: node: duplicate key (first set at line 1)"},
		},
		{
			name: "type errors name the field",
			in:   "limits:\n  flows: many\n  idle: 5\n  on: maybe\nitems: {a: 1}\n",
			wantErr: []string{
				`line 2: limits.flows: cannot use "many" as an integer`,
				`line 3: limits.idle: cannot use "5" as a duration (e.g. 30s, 5m, 1h)`,
				`line 4: limits.on: cannot use "maybe" as a boolean (true or false)`,
				"line 5: items: want a list, got a mapping",
			},
		},
		{
			name: "list and map elements are named",
			in:   "items:\n  - ips: [a, {x: y}]\n    labels: {k: [1]}\n",
			wantErr: []string{
				"line 2: items[0].ips[1]: cannot unmarshal !!map into string",
				"line 3: items[0].labels.k: cannot unmarshal !!seq into string",
			},
		},
		{
			name:    "struct given a scalar",
			in:      "limits: 3\n",
			wantErr: []string{`line 1: limits: want a mapping of fields, got "3"`},
		},
		{
			name:    "syntax error",
			in:      "node: [\n",
			wantErr: []string{"line 1: YAML syntax: did not find expected node content"},
		},
		{
			name:    "top level is a list",
			in:      "- a\n",
			wantErr: []string{"line 1: want a mapping of fields, got a list"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := defaults()
			_, err := Decode([]byte(tt.in), &got)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("Decode succeeded, want errors %q", tt.wantErr)
				}
				if diff := cmp.Diff(tt.wantErr, strings.Split(err.Error(), "\n")); diff != "" {
					t.Errorf("errors (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPositions(t *testing.T) {
	d := defaults()
	pos, err := Decode([]byte("node: x\nlimits:\n  flows: 3\nitems:\n  - name: a\n"), &d)
	if err != nil {
		t.Fatal(err)
	}
	want := Positions{"node": 1, "limits": 3, "limits.flows": 3, "items": 5, "items[0]": 5, "items[0].name": 5}
	if diff := cmp.Diff(want, pos); diff != "" {
		t.Errorf("positions (-want +got):\n%s", diff)
	}
}

func TestSet(t *testing.T) {
	tests := []struct {
		name, path, value string
		literal           bool
		want              func(*doc)
		wantErr           string
	}{
		{name: "int", path: "limits.flows", value: "12", want: func(d *doc) { d.Limits.Flows = 12 }},
		{name: "duration", path: "limits.idle", value: "2s", want: func(d *doc) { d.Limits.Idle = 2 * time.Second }},
		{name: "list", path: "items", value: "[{name: a}]", want: func(d *doc) { d.Items = []item{{Name: "a"}} }},
		{name: "literal keeps colons", path: "node", value: "a: b", literal: true, want: func(d *doc) { d.Node = "a: b" }},
		{name: "literal empty string", path: "node", value: "", literal: true, want: func(d *doc) { d.Node = "" }},
		{name: "literal number into int", path: "limits.flows", value: "5", literal: true, want: func(d *doc) { d.Limits.Flows = 5 }},
		{name: "literal bool", path: "limits.on", value: "true", literal: true, want: func(d *doc) { d.Limits.On = true }},
		{name: "literal empty into int", path: "limits.flows", value: "", literal: true, wantErr: `limits.flows: cannot use "" as an integer`},
		{name: "unknown path", path: "limits.nope", value: "1", wantErr: "limits.nope: unknown field (known fields: flows, idle, on)"},
		{name: "bad type", path: "limits.flows", value: "x", wantErr: `limits.flows: cannot use "x" as an integer`},
		{name: "empty path element", path: "limits..flows", value: "1", wantErr: "limits..flows: empty element in field path"},
		{name: "bad yaml", path: "node", value: "[", wantErr: `node: bad value "[": did not find expected node content`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := defaults()
			var err error
			if tt.literal {
				err = SetString(&got, tt.path, tt.value)
			} else {
				err = Set(&got, tt.path, tt.value)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := defaults()
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestFields(t *testing.T) {
	want := []string{"node", "limits.flows", "limits.idle", "limits.on", "ptr.flows", "ptr.idle", "ptr.on", "items", "byName"}
	if diff := cmp.Diff(want, Fields(&doc{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDecodeRejectsNonStruct(t *testing.T) {
	var n int
	if _, err := Decode([]byte("1"), &n); err == nil {
		t.Fatal("Decode into *int succeeded")
	}
}

func TestErrorsAreTyped(t *testing.T) {
	d := defaults()
	_, err := Decode([]byte("nope: 1\n"), &d)
	var e *Error
	if !errors.As(err, &e) || e.Line != 1 || e.Path != "nope" {
		t.Fatalf("errors.As(%v) = %+v", err, e)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"", "node: x\n", "limits: {flows: 3, idle: 2s}\n", "items: [{name: a, labels: {a: b}}]\n",
		"a: &x 1\nb: *x\n", "byName: {k: {on: true}}\n", "node: [\n", "- 1\n", "ptr: ~\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d doc
		_, err := Decode(data, &d)
		if err != nil && err.Error() == "" {
			t.Fatal("empty error message")
		}
	})
}
