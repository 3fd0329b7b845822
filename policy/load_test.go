package policy

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"bulkhead.dev/bulkhead/internal/golden"
)

const header = "apiVersion: bulkhead.dev/v1alpha1\nkind: Policy\nmetadata: {name: t}\nspec:\n"

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		spec string // indented under spec:
		want []string
	}{
		{"unknown field", "  groups:\n    - name: a\n      selector: {}\n      colour: red\n",
			[]string{`p.yaml:8: groups[0].colour: unknown field (known: name, selector, cidrs, except, fqdns, mode, autoPromote)`}},
		{"bad cidr", "  groups:\n    - name: a\n      cidrs: [10.0.0.1/8, nope]\n",
			[]string{`p.yaml:7: groups[0].cidrs[0]: bad CIDR "10.0.0.1/8": host bits set (did you mean 10.0.0.0/8?)`,
				`p.yaml:7: groups[0].cidrs[1]: bad CIDR "nope": not an address or prefix`}},
		{"bad port", "  rules:\n    - {from: world, to: host, ports: [tcp/80000]}\n",
			[]string{`p.yaml:6: rules[0].ports[0]: bad port "tcp/80000": port 80000 out of range 1-65535`}},
		{"unknown app", "  rules:\n    - {from: world, to: host, app: htp}\n",
			[]string{`p.yaml:6: rules[0].app: unknown app "htp" (known: any, ` + appList() + `)`}},
		{"undefined group", "  groups:\n    - {name: frontend, selector: {}}\n  rules:\n    - {from: fronted, to: host}\n",
			[]string{`p.yaml:8: rules[0].from: group "fronted" is not defined (did you mean "frontend"?)`}},
		{"duplicate group", "  groups:\n    - {name: a, selector: {}}\n    - {name: a, fqdns: [x.com]}\n",
			[]string{`p.yaml:7: groups[1].name: duplicate group "a" (first defined at p.yaml:6)`}},
		{"duplicate rule", "  rules:\n    - {name: r, from: world, to: host}\n    - {name: r, from: host, to: world}\n",
			[]string{`p.yaml:7: rules[1].name: duplicate rule "r" (first defined at p.yaml:6)`}},
		{"builtin group", "  groups:\n    - {name: world, cidrs: [0.0.0.0/0]}\n",
			[]string{`p.yaml:6: groups[0].name: "world" is a built-in group and cannot be defined`}},
		{"reserved group name", "  groups:\n    - {name: other, selector: {}}\n",
			[]string{`p.yaml:6: groups[0].name: "other" is reserved (metrics use it for folded and missing groups)`}},
		{"condition does not fit app", "  rules:\n    - from: world\n      to: host\n      app: redis\n      http:\n        - {path: /x}\n",
			[]string{`p.yaml:10: rules[0].http: http conditions do not apply to app redis (they need app http or http2)`}},
		{"condition without app", "  rules:\n    - from: world\n      to: host\n      dns:\n        - {name: x.com}\n",
			[]string{`p.yaml:9: rules[0].dns: dns conditions need app dns`}},
		{"bad pattern", "  rules:\n    - from: world\n      to: host\n      app: http\n      http:\n        - {path: /a/**/b}\n",
			[]string{`p.yaml:10: rules[0].http[0].path: bad path pattern "/a/**/b": ** is allowed only as the last segment`}},
		{"empty condition", "  rules:\n    - from: world\n      to: host\n      app: http\n      http:\n        - {}\n",
			[]string{`p.yaml:10: rules[0].http[0]: empty condition (set at least one of method, path, host)`}},
		{"two kinds", "  rules:\n    - from: world\n      to: host\n      app: http\n      http: [{path: /}]\n      dns: [{name: x.com}]\n",
			[]string{`p.yaml:10: rules[0].dns: a rule has one kind of L7 conditions; http is already given`}},
		{"group kinds", "  groups:\n    - {name: a}\n    - {name: b, selector: {}, fqdns: [x.com]}\n",
			[]string{`p.yaml:6: groups[0]: a group needs one of selector, cidrs or fqdns`, `p.yaml:7: groups[1]: a group has only one of selector, cidrs or fqdns`}},
		{"except outside", "  groups:\n    - {name: a, cidrs: [198.18.0.0/16], except: [198.19.0.0/24]}\n",
			[]string{`p.yaml:6: groups[0].except[0]: 198.19.0.0/24 is not inside any of the group's cidrs`}},
		{"mode on cidr", "  groups:\n    - {name: a, cidrs: [198.18.0.0/16], mode: protect}\n",
			[]string{`p.yaml:6: groups[0].mode: mode applies to selector groups only (addresses outside the node have no mode)`}},
		{"bad mode", "  defaultMode: enforce\n",
			[]string{`p.yaml:5: defaultMode: unknown mode "enforce" (want learn, monitor or protect)`}},
		{"selector operator", "  groups:\n    - name: a\n      selector:\n        matchExpressions:\n          - {key: app, operator: Has}\n          - {key: app, operator: In}\n          - {key: app, operator: Exists, values: [x]}\n",
			[]string{`p.yaml:9: groups[0].selector.matchExpressions[0].operator: unknown operator "Has" (want In, NotIn, Exists or DoesNotExist)`,
				`p.yaml:10: groups[0].selector.matchExpressions[1].values: operator In needs at least one value`,
				`p.yaml:11: groups[0].selector.matchExpressions[2].values: operator Exists takes no values`}},
		{"bad label", "  groups:\n    - name: a\n      selector:\n        matchLabels: {'-bad': x, ok: 'not ok'}\n",
			[]string{`p.yaml:8: groups[0].selector.matchLabels.-bad: bad label key "-bad": "-bad" must start and end with a letter or digit`,
				`p.yaml:8: groups[0].selector.matchLabels.ok: bad label value: "not ok" has character ' ' (want letters, digits, '-', '_', '.')`}},
		{"autoPromote", "  defaultMode: protect\n  groups:\n    - {name: a, selector: {}, autoPromote: {after: 10s, to: learn}}\n    - {name: b, selector: {}, autoPromote: {after: 1h, to: monitor}}\n",
			[]string{`p.yaml:7: groups[0].autoPromote.after: bad duration "10s": shorter than 1m`,
				`p.yaml:7: groups[0].autoPromote.to: autoPromote.to must be monitor or protect`,
				`p.yaml:8: groups[1].autoPromote.to: autoPromote.to monitor is not above the group's mode protect`}},
		{"fqdn any", "  groups:\n    - {name: a, fqdns: ['*']}\n",
			[]string{`p.yaml:6: groups[0].fqdns[0]: bad FQDN "*": use the world group for every name`}},
		{"missing from", "  rules:\n    - {to: host}\n    - {from: '', to: world}\n",
			[]string{`p.yaml:6: rules[0].from: missing`, `p.yaml:7: rules[1].from: empty group name`}},
		{"yaml syntax", "  rules: [\n", []string{`p.yaml:5: bad YAML: did not find expected node content`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(header+tt.spec))
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Parse: want an ErrorList, got %v", err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("errors (-want +got):\n%s", d)
			}
		})
	}
}

func TestLoadHeaderErrors(t *testing.T) {
	_, err := Parse("p.yaml", []byte("apiVersion: v1\nkind: NetworkPolicy\nspec: {}\n---\nkind: Policy\n"))
	want := strings.Join([]string{
		`p.yaml:1: apiVersion: unsupported apiVersion "v1" (want bulkhead.dev/v1alpha1)`,
		`p.yaml:2: kind: unsupported kind "NetworkPolicy" (want Policy)`,
		`p.yaml:5: apiVersion: missing (want bulkhead.dev/v1alpha1)`,
		`p.yaml:5: spec: missing`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestLoadDirectoryAndIDs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, spec string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(header+spec), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", "  defaultMode: protect\n  groups:\n    - {name: web, selector: {matchLabels: {app: web}}}\n  rules:\n    - {from: world, to: web, ports: [tcp/443]}\n    - {name: named, from: web, to: world}\n")
	write("b.yml", "  rules:\n    - {from: web, to: host}\n")
	write("README.md", "not a policy")
	write(".hidden.yaml", "garbage: [")
	pol, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range pol.Rules {
		ids = append(ids, r.ID)
	}
	if d := cmp.Diff([]string{"a.yaml#rule-1", "named", "b.yml#rule-1"}, ids); d != "" {
		t.Errorf("rule ids (-want +got):\n%s", d)
	}
	if pol.DefaultMode != ModeProtect || len(pol.Files) != 2 {
		t.Errorf("DefaultMode %v, files %v", pol.DefaultMode, pol.Files)
	}
	// Conflicting default modes and clashing derived ids across files.
	write("c.yaml", "  defaultMode: learn\n")
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "a.yaml"), []byte(header+"  rules:\n    - {from: host, to: world}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(dir, filepath.Join(sub, "a.yaml"))
	got := strings.ReplaceAll(err.Error(), dir+"/", "")
	want := "c.yaml:5: defaultMode: defaultMode learn conflicts with defaultMode protect set at " + dir + "/a.yaml:5\n" +
		"sub/a.yaml:6: rules[0]: unnamed rule: its id a.yaml#rule-N would clash with rules of " + dir + "/a.yaml (same file name); name the rules or rename the file"
	want = strings.ReplaceAll(want, dir+"/", "")
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestLoadCollectsAllErrors(t *testing.T) {
	_, err := Load("testdata/errors.yaml")
	if err == nil {
		t.Fatal("want errors")
	}
	golden.Check(t, "testdata/errors.golden", []byte(err.Error()+"\n"))
}

func TestMarshalRoundTrip(t *testing.T) {
	pol, err := Load("testdata/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(pol, "shop")
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("shop.yaml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	opts := cmp.Options{cmp.Comparer(func(a, b Pos) bool { return true }), cmpopts.EquateComparable(netip.Prefix{})}
	if d := cmp.Diff(pol.Groups, back.Groups, opts); d != "" {
		t.Errorf("groups differ after round trip:\n%s", d)
	}
	if d := cmp.Diff(pol.Rules, back.Rules, opts); d != "" {
		t.Errorf("rules differ after round trip:\n%s", d)
	}
	golden.Check(t, "testdata/shop.marshal.golden", out)
}
