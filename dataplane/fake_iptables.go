package dataplane

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// FakeRunner is an in-memory iptables filter table per family that applies
// iptables-restore --noflush scripts atomically, with the checks the real
// programs make (a rule's chain and jump target exist, a deleted rule
// exists, a deleted chain is empty and unreferenced), and prints
// iptables-save output. It records every script it was given, so tests
// compare the text the dataplane would run. Safe for concurrent use.
type FakeRunner struct {
	mu      sync.Mutex
	tables  map[Family]*fakeTable
	scripts []FakeScript
	// FailRestore, if set, makes Restore fail with this error.
	FailRestore error
}

// FakeScript is one Restore call.
type FakeScript struct {
	Family Family
	Script string
}

type fakeTable struct {
	order []string // chain order: built-ins first, then creation order
	rules map[string][][]string
}

var builtinChains = []string{"INPUT", "FORWARD", "OUTPUT"}

func newFakeTable() *fakeTable {
	t := &fakeTable{rules: map[string][][]string{}}
	for _, c := range builtinChains {
		t.order = append(t.order, c)
		t.rules[c] = nil
	}
	return t
}

func (t *fakeTable) clone() *fakeTable {
	c := &fakeTable{order: slices.Clone(t.order), rules: map[string][][]string{}}
	for k, v := range t.rules {
		rs := make([][]string, len(v))
		for i, r := range v {
			rs[i] = slices.Clone(r)
		}
		c.rules[k] = rs
	}
	return c
}

func (f *FakeRunner) table(fam Family) *fakeTable {
	if f.tables == nil {
		f.tables = map[Family]*fakeTable{}
	}
	if f.tables[fam] == nil {
		f.tables[fam] = newFakeTable()
	}
	return f.tables[fam]
}

// Scripts returns the scripts given to Restore, in order.
func (f *FakeRunner) Scripts() []FakeScript {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.scripts)
}

// Save prints the family's filter table in iptables-save format.
func (f *FakeRunner) Save(_ context.Context, fam Family) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.table(fam)
	var b bytes.Buffer
	b.WriteString("*filter\n")
	for _, c := range t.order {
		policy := "-"
		if slices.Contains(builtinChains, c) {
			policy = "ACCEPT"
		}
		fmt.Fprintf(&b, ":%s %s [0:0]\n", c, policy)
	}
	for _, c := range t.order {
		for _, r := range t.rules[c] {
			fmt.Fprintf(&b, "-A %s %s\n", c, joinArgs(r))
		}
	}
	b.WriteString("COMMIT\n")
	return b.Bytes(), nil
}

// Restore applies script atomically.
func (f *FakeRunner) Restore(_ context.Context, fam Family, script []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scripts = append(f.scripts, FakeScript{fam, string(script)})
	if f.FailRestore != nil {
		return f.FailRestore
	}
	t := f.table(fam).clone()
	if err := t.apply(script); err != nil {
		return fmt.Errorf("dataplane: fake %v iptables-restore: %w", fam, err)
	}
	f.tables[fam] = t
	return nil
}

// Load applies script as iptables-restore --noflush would, without
// recording it: for seeding other software's rules in tests.
func (f *FakeRunner) Load(fam Family, script string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.table(fam).clone()
	if err := t.apply([]byte(script)); err != nil {
		return err
	}
	f.tables[fam] = t
	return nil
}

var fakeTargets = []string{"ACCEPT", "DROP", "REJECT", "RETURN", "NFQUEUE", "CONNMARK", "MARK", "LOG"}

func (t *fakeTable) apply(script []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(script))
	inFilter, committed := false, false
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		fail := func(format string, a ...any) error {
			return fmt.Errorf("line %d %q: %s", n, l, fmt.Sprintf(format, a...))
		}
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
			continue
		case l == "*filter":
			inFilter = true
			continue
		case strings.HasPrefix(l, "*"):
			return fail("fake supports the filter table only")
		case l == "COMMIT":
			committed = true
			inFilter = false
			continue
		case !inFilter:
			return fail("outside a table")
		}
		toks, err := splitArgs(l)
		if err != nil {
			return fail("%v", err)
		}
		switch op := toks[0]; {
		case strings.HasPrefix(op, ":"):
			name := op[1:]
			if slices.Contains(builtinChains, name) {
				continue // policy line: noflush keeps the rules
			}
			if _, ok := t.rules[name]; !ok {
				t.order = append(t.order, name)
			}
			t.rules[name] = nil
		case op == "-A" || op == "-I" || op == "-D":
			if len(toks) < 2 {
				return fail("missing chain")
			}
			chain := toks[1]
			rs, ok := t.rules[chain]
			if !ok {
				return fail("no chain %s", chain)
			}
			args := toks[2:]
			switch op {
			case "-A":
				if err := t.checkTarget(args); err != nil {
					return fail("%v", err)
				}
				t.rules[chain] = append(rs, args)
			case "-I":
				pos := 1
				if len(args) > 0 {
					if p, err := strconv.Atoi(args[0]); err == nil {
						pos, args = p, args[1:]
					}
				}
				if pos < 1 || pos > len(rs)+1 {
					return fail("index %d out of range", pos)
				}
				if err := t.checkTarget(args); err != nil {
					return fail("%v", err)
				}
				t.rules[chain] = slices.Insert(rs, pos-1, args)
			case "-D":
				i := slices.IndexFunc(rs, func(r []string) bool { return slices.Equal(r, args) })
				if i < 0 {
					return fail("no such rule in %s", chain)
				}
				t.rules[chain] = slices.Delete(rs, i, i+1)
			}
		case op == "-F":
			if len(toks) != 2 {
				return fail("want -F CHAIN")
			}
			if _, ok := t.rules[toks[1]]; !ok {
				return fail("no chain %s", toks[1])
			}
			t.rules[toks[1]] = nil
		case op == "-X":
			if len(toks) != 2 {
				return fail("want -X CHAIN")
			}
			name := toks[1]
			rs, ok := t.rules[name]
			switch {
			case !ok:
				return fail("no chain %s", name)
			case slices.Contains(builtinChains, name):
				return fail("cannot delete built-in chain %s", name)
			case len(rs) > 0:
				return fail("chain %s is not empty", name)
			case t.referenced(name):
				return fail("chain %s is referenced", name)
			}
			delete(t.rules, name)
			t.order = slices.DeleteFunc(t.order, func(c string) bool { return c == name })
		default:
			return fail("unsupported command %s", op)
		}
	}
	if !committed {
		return fmt.Errorf("no COMMIT")
	}
	return nil
}

func (t *fakeTable) checkTarget(args []string) error {
	tgt := jumpTarget(args)
	if tgt == "" || slices.Contains(fakeTargets, tgt) {
		return nil
	}
	if _, ok := t.rules[tgt]; !ok {
		return fmt.Errorf("jump to missing chain %s", tgt)
	}
	return nil
}

func (t *fakeTable) referenced(chain string) bool {
	for _, rs := range t.rules {
		for _, r := range rs {
			if jumpTarget(r) == chain {
				return true
			}
		}
	}
	return false
}
