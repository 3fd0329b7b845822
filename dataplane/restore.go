package dataplane

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Saved is what iptables-save shows of Bulkhead in the filter table of one
// family: its chains, their rules, and the rules of other chains that jump
// to them.
type Saved struct {
	Chains []string
	Rules  []Rule
	Jumps  []Rule
}

// Empty reports whether no Bulkhead chain or jump exists.
func (s Saved) Empty() bool { return len(s.Chains) == 0 && len(s.Jumps) == 0 }

// ParseSave parses iptables-save output and returns the Bulkhead part of its
// filter table. Other tables and chains are ignored.
func ParseSave(text []byte) (Saved, error) {
	var s Saved
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	table := ""
	for line := 1; sc.Scan(); line++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "*"):
			table = l[1:]
		case l == "COMMIT":
			table = ""
		case table != "filter":
		case strings.HasPrefix(l, ":"):
			name, _, _ := strings.Cut(l[1:], " ")
			if owned(name) {
				s.Chains = append(s.Chains, name)
			}
		case strings.HasPrefix(l, "-A "):
			toks, err := splitArgs(l[3:])
			if err != nil {
				return Saved{}, fmt.Errorf("dataplane: parse iptables-save line %d %q: %w", line, l, err)
			}
			if len(toks) < 1 {
				return Saved{}, fmt.Errorf("dataplane: parse iptables-save line %d %q: rule without chain", line, l)
			}
			r := Rule{Chain: toks[0], Args: toks[1:]}
			switch {
			case owned(r.Chain):
				s.Rules = append(s.Rules, r)
			case owned(jumpTarget(r.Args)):
				s.Jumps = append(s.Jumps, r)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Saved{}, fmt.Errorf("dataplane: read iptables-save output: %w", err)
	}
	return s, nil
}

func owned(chain string) bool { return strings.HasPrefix(chain, ChainPrefix) }

// jumpTarget returns the chain a rule jumps or goes to, or "".
func jumpTarget(args []string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-j" || args[i] == "-g" || args[i] == "--jump" || args[i] == "--goto" {
			return args[i+1]
		}
	}
	return ""
}

// ApplyScript returns the iptables-restore --noflush script that replaces
// whatever Bulkhead rules exist (cur, from iptables-save) with rs, in one
// atomic batch: every Bulkhead chain is flushed, stale ones are deleted,
// every existing jump to a Bulkhead chain is deleted and the jumps of rs
// are inserted once at the top of their built-in chains. Rules of other
// chains are never touched.
func ApplyScript(rs Ruleset, cur Saved) []byte {
	var b bytes.Buffer
	b.WriteString("*filter\n")
	stale := make([]string, 0, len(cur.Chains))
	for _, c := range cur.Chains {
		if !slices.Contains(rs.Chains, c) {
			stale = append(stale, c)
		}
	}
	for _, c := range rs.Chains {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c)
	}
	for _, c := range stale {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c)
	}
	for _, j := range cur.Jumps {
		fmt.Fprintf(&b, "-D %s %s\n", j.Chain, joinArgs(j.Args))
	}
	for _, c := range stale {
		fmt.Fprintf(&b, "-X %s\n", c)
	}
	for _, r := range rs.Rules {
		fmt.Fprintf(&b, "-A %s %s\n", r.Chain, joinArgs(r.Args))
	}
	for _, j := range rs.Jumps {
		fmt.Fprintf(&b, "-I %s 1 %s\n", j.Chain, joinArgs(j.Args))
	}
	b.WriteString("COMMIT\n")
	return b.Bytes()
}

// RemoveScript returns the iptables-restore --noflush script that removes
// every Bulkhead chain and jump in cur, or nil when there is none.
func RemoveScript(cur Saved) []byte {
	if cur.Empty() {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("*filter\n")
	for _, c := range cur.Chains {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c)
	}
	for _, j := range cur.Jumps {
		fmt.Fprintf(&b, "-D %s %s\n", j.Chain, joinArgs(j.Args))
	}
	for _, c := range cur.Chains {
		fmt.Fprintf(&b, "-X %s\n", c)
	}
	b.WriteString("COMMIT\n")
	return b.Bytes()
}

// joinArgs renders arguments for iptables-restore, quoting those that need
// it (e.g. a comment saved by another tool): empty ones, and those with
// quotes, backslashes or any white space (a line's ends are trimmed when it
// is read back, so a trailing "\v" would otherwise be lost).
func joinArgs(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a == "" || strings.ContainsAny(a, "\"'\\") || strings.ContainsFunc(a, unicode.IsSpace) {
			b.WriteByte('"')
			b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a))
			b.WriteByte('"')
			continue
		}
		b.WriteString(a)
	}
	return b.String()
}

// splitArgs splits a rule the way iptables-restore does: on spaces, with
// double-quoted strings (backslash escapes inside) as one argument.
func splitArgs(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == '"':
			inQuote = !inQuote
			have = true
		case !inQuote && (c == ' ' || c == '\t'):
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("unterminated quote")
	}
	if have {
		out = append(out, cur.String())
	}
	return out, nil
}
