package dataplane

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"bulkhead.dev/bulkhead/internal/golden"
)

// saveFixtures are real iptables-save outputs (testdata/iptables-save):
// Bulkhead's rules next to other software's (Docker- and kube-proxy-like
// chains, comments with quotes and backslashes, other tables), taken from
// network namespaces with both backends and both families.
func saveFixtures(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob("testdata/iptables-save/*.txt")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no iptables-save fixtures (%v)", err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".txt")] = b
	}
	return out
}

// renderSaved prints s as iptables-save would (filter table only).
func renderSaved(s Saved) []byte {
	var b strings.Builder
	b.WriteString("*filter\n")
	for _, c := range s.Chains {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c)
	}
	for _, r := range append(append([]Rule(nil), s.Jumps...), s.Rules...) {
		fmt.Fprintf(&b, "-A %s\n", joinArgs(append([]string{r.Chain}, r.Args...)))
	}
	b.WriteString("COMMIT\n")
	return []byte(b.String())
}

// describeSaved lists what ParseSave found, one item a line.
func describeSaved(s Saved) string {
	var b strings.Builder
	for _, c := range s.Chains {
		fmt.Fprintf(&b, "chain %s\n", c)
	}
	for _, r := range s.Jumps {
		fmt.Fprintf(&b, "jump  %s %q\n", r.Chain, r.Args)
	}
	for _, r := range s.Rules {
		fmt.Fprintf(&b, "rule  %s %q\n", r.Chain, r.Args)
	}
	return b.String()
}

// TestParseSaveRealOutput: of real iptables-save output, ParseSave keeps
// exactly Bulkhead's chains, their rules and the jumps to them (golden
// files), and the remove script it leads to names every one of them.
func TestParseSaveRealOutput(t *testing.T) {
	for name, text := range saveFixtures(t) {
		t.Run(name, func(t *testing.T) {
			s, err := ParseSave(text)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "iptables-save", name+".parsed.golden"), []byte(describeSaved(s)))
			if len(s.Chains) < 8 || len(s.Jumps) != 3 {
				t.Errorf("%d Bulkhead chains and %d jumps, want all 8 (9 for IPv6) and 3", len(s.Chains), len(s.Jumps))
			}
			for _, r := range append(append([]Rule(nil), s.Rules...), s.Jumps...) {
				if strings.Contains(strings.Join(r.Args, " "), "KUBE") || strings.Contains(strings.Join(r.Args, " "), "DOCKER") {
					t.Errorf("another program's rule kept: %v", r)
				}
			}
			rm := string(RemoveScript(s))
			for _, c := range s.Chains {
				if !strings.Contains(rm, "-X "+c+"\n") {
					t.Errorf("remove script does not delete %s:\n%s", c, rm)
				}
			}
		})
	}
}

// FuzzParseSave: ParseSave never panics; its errors name the line; every
// rule it returns survives joinArgs → splitArgs unchanged (the scripts the
// dataplane writes delete exactly the rules it read); and printing what it
// found as iptables-save output and parsing that again gives the same.
func FuzzParseSave(f *testing.F) {
	for _, text := range saveFixtures(f) {
		f.Add(text)
	}
	goldens, _ := filepath.Glob("testdata/rules/*.golden")
	for _, p := range goldens {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"*filter\n-A BULKHEAD-X -m comment --comment \"a \\\"b\\\" \\\\ c\" -j ACCEPT\nCOMMIT\n",
		"*filter\n-A FORWARD -j BULKHEAD-FWD\n-A BULKHEAD-FWD \"\" \"x y\"\t-j RETURN\nCOMMIT\n",
		"*filter\n-A BULKHEAD-FWD --comment \"open\nCOMMIT\n",
		"*nat\n-A BULKHEAD-FWD -j X\nCOMMIT\n*filter\n:BULKHEAD-A - [0:0]\n-A\n-A \nCOMMIT\n",
		"*filter\n-A BULKHEAD-FWD a\\\"b c\"d e\"f\n-A BULKHEAD-FWD x\v\n",
		"*filter\n-A BULKHEAD-FWD \"x\v\" \"\r\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		s, err := ParseSave(text)
		if err != nil {
			if !strings.Contains(err.Error(), "dataplane: ") {
				t.Fatalf("error %q does not say where it comes from", err)
			}
			return
		}
		for _, r := range append(append([]Rule(nil), s.Rules...), s.Jumps...) {
			back, err := splitArgs(joinArgs(r.Args))
			if err != nil {
				t.Fatalf("splitArgs(joinArgs(%q)): %v", r.Args, err)
			}
			if diff := cmp.Diff(r.Args, back, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("joinArgs round trip of %q (-want +got):\n%s", r.Args, diff)
			}
		}
		again, err := ParseSave(renderSaved(s))
		if err != nil {
			t.Fatalf("parse of the re-printed rules: %v\n%s", err, renderSaved(s))
		}
		if diff := cmp.Diff(s, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("parse → print → parse changed the rules (-first +second):\n%s\nprinted:\n%s", diff, renderSaved(s))
		}
	})
}
