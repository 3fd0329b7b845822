package graphview

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// A strict reader for the DOT that WriteDot emits, used as a test oracle:
// it tokenises like Graphviz's lexer (quoted strings end at the first '"'
// not preceded by '\'; HTML strings nest '<' '>'), checks that every HTML
// label is well-formed XML made of the elements we write, and returns the
// node and edge statements. A hostile name that ended a string or injected
// a statement or attribute would show up as an error or as extra nodes.

type dotToken struct {
	kind string // "id", "q" (quoted), "html", or the punctuation itself
	val  string
}

func lexDot(src string) ([]dotToken, error) {
	var toks []dotToken
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.HasPrefix(src[i:], "//"):
			j := strings.IndexByte(src[i:], '\n')
			if j < 0 {
				return nil, errors.New("comment without newline at end")
			}
			i += j + 1
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(src) && src[j] != '"'; j++ {
				if src[j] == '\\' && j+1 < len(src) && src[j+1] == '"' {
					b.WriteByte('"')
					j++
					continue
				}
				if src[j] == '\\' && j+1 < len(src) && src[j+1] == '\n' {
					return nil, fmt.Errorf("line continuation in a string at %d", j)
				}
				b.WriteByte(src[j])
			}
			if j == len(src) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			toks = append(toks, dotToken{"q", b.String()})
			i = j + 1
		case c == '<':
			depth, j := 0, i
			for ; j < len(src); j++ {
				if src[j] == '<' {
					depth++
				} else if src[j] == '>' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			if j == len(src) {
				return nil, fmt.Errorf("unterminated HTML string at %d", i)
			}
			toks = append(toks, dotToken{"html", src[i+1 : j]})
			i = j + 1
		case strings.HasPrefix(src[i:], "->"):
			toks = append(toks, dotToken{"->", "->"})
			i += 2
		case strings.IndexByte("{}[];,=", c) >= 0:
			toks = append(toks, dotToken{string(c), string(c)})
			i++
		case c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(src) && (src[j] == '_' || src[j] == '.' || src[j] >= '0' && src[j] <= '9' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z') {
				j++
			}
			toks = append(toks, dotToken{"id", src[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("unexpected byte %q at %d", c, i)
		}
	}
	return toks, nil
}

// htmlElements are the elements WriteDot uses in labels.
var htmlElements = []string{"b", "i", "br", "font", "table", "tr", "td"}

// checkHTML checks that an HTML label is well-formed XML of our elements
// whose text has no escString sequence but "\\\\" (one backslash), and
// returns its text as Graphviz draws it.
func checkHTML(s string) (string, error) {
	text, err := htmlText(s)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		if text[i] != '\\' {
			b.WriteByte(text[i])
			continue
		}
		if i+1 == len(text) || text[i+1] != '\\' {
			return "", fmt.Errorf("HTML label %q: a backslash Graphviz would read as an escape", s)
		}
		b.WriteByte('\\')
		i++
	}
	return b.String(), nil
}

func htmlText(s string) (string, error) {
	dec := xml.NewDecoder(strings.NewReader("<label>" + s + "</label>"))
	dec.Strict = true
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return text.String(), nil
		}
		if err != nil {
			return "", fmt.Errorf("HTML label %q: %w", s, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local != "label" && !slices.Contains(htmlElements, t.Name.Local) {
				return "", fmt.Errorf("HTML label %q: element <%s>", s, t.Name.Local)
			}
			if t.Name.Local == "br" {
				text.WriteByte('\n')
			}
		case xml.CharData:
			text.Write(t)
		}
	}
}

// dotGraph is what parseDot found.
type dotGraph struct {
	nodes  []string          // node IDs, in order
	edges  [][2]string       // edges, in order
	labels map[string]string // node ID or "SRC->DST" → label text
}

type dotParser struct {
	toks []dotToken
	pos  int
	g    dotGraph
}

func (p *dotParser) next() dotToken {
	if p.pos == len(p.toks) {
		return dotToken{"eof", ""}
	}
	t := p.toks[p.pos]
	p.pos++
	return t
}

func (p *dotParser) peek() dotToken {
	if p.pos == len(p.toks) {
		return dotToken{"eof", ""}
	}
	return p.toks[p.pos]
}

func (p *dotParser) expect(kind string) (dotToken, error) {
	t := p.next()
	if t.kind != kind {
		return t, fmt.Errorf("token %d: got %s %q, want %s", p.pos, t.kind, t.val, kind)
	}
	return t, nil
}

// attrs reads "[k=v, …]" and returns the label's text.
func (p *dotParser) attrs() (label string, err error) {
	if _, err := p.expect("["); err != nil {
		return "", err
	}
	seen := map[string]bool{}
	for {
		k, err := p.expect("id")
		if err != nil {
			return "", err
		}
		if seen[k.val] {
			return "", fmt.Errorf("attribute %s set twice", k.val)
		}
		seen[k.val] = true
		if _, err := p.expect("="); err != nil {
			return "", err
		}
		v := p.next()
		switch v.kind {
		case "id", "q":
		case "html":
			text, err := checkHTML(v.val)
			if err != nil {
				return "", err
			}
			if k.val == "label" {
				label = text
			}
		default:
			return "", fmt.Errorf("attribute %s: value %s %q", k.val, v.kind, v.val)
		}
		switch t := p.next(); t.kind {
		case ",":
		case "]":
			return label, nil
		default:
			return "", fmt.Errorf("in attributes: %s %q", t.kind, t.val)
		}
	}
}

// stmts reads statements up to the closing brace.
func (p *dotParser) stmts(top bool) error {
	for {
		t := p.next()
		switch {
		case t.kind == "}":
			return nil
		case t.kind == "id" && (t.val == "graph" || t.val == "node" || t.val == "edge") && top:
			if _, err := p.attrs(); err != nil {
				return err
			}
		case t.kind == "id" && t.val == "subgraph" && top:
			if _, err := p.expect("id"); err != nil {
				return err
			}
			if _, err := p.expect("{"); err != nil {
				return err
			}
			if err := p.stmts(false); err != nil {
				return err
			}
			continue // no ';' after a subgraph
		case t.kind == "id" && !top: // cluster attribute: k=v
			if _, err := p.expect("="); err != nil {
				return err
			}
			if v := p.next(); v.kind != "id" && v.kind != "q" && v.kind != "html" {
				return fmt.Errorf("cluster attribute %s: %s", t.val, v.kind)
			} else if v.kind == "html" {
				if _, err := checkHTML(v.val); err != nil {
					return err
				}
			}
		case t.kind == "q":
			if p.peek().kind == "->" {
				p.next()
				dst, err := p.expect("q")
				if err != nil {
					return err
				}
				label, err := p.attrs()
				if err != nil {
					return err
				}
				p.g.edges = append(p.g.edges, [2]string{t.val, dst.val})
				p.g.labels[t.val+"->"+dst.val] = label
			} else {
				label, err := p.attrs()
				if err != nil {
					return err
				}
				p.g.nodes = append(p.g.nodes, t.val)
				p.g.labels[t.val] = label
			}
		default:
			return fmt.Errorf("token %d: unexpected %s %q", p.pos, t.kind, t.val)
		}
		if _, err := p.expect(";"); err != nil {
			return err
		}
	}
}

// parseDot reads WriteDot's output.
func parseDot(src string) (*dotGraph, error) {
	toks, err := lexDot(src)
	if err != nil {
		return nil, err
	}
	p := &dotParser{toks: toks, g: dotGraph{labels: map[string]string{}}}
	if t, err := p.expect("id"); err != nil || t.val != "digraph" {
		return nil, fmt.Errorf("want digraph: %v", err)
	}
	if _, err := p.expect("id"); err != nil {
		return nil, err
	}
	if _, err := p.expect("{"); err != nil {
		return nil, err
	}
	if err := p.stmts(true); err != nil {
		return nil, err
	}
	if t := p.next(); t.kind != "eof" {
		return nil, fmt.Errorf("after the graph: %s %q", t.kind, t.val)
	}
	return &p.g, nil
}

// checkDotMatches checks that dot draws exactly g's nodes and edges.
func checkDotMatches(dot string, g *Graph) error {
	dg, err := parseDot(dot)
	if err != nil {
		return err
	}
	var wantNodes []string
	for _, n := range g.Nodes {
		wantNodes = append(wantNodes, n.ID)
	}
	var wantEdges [][2]string
	for _, e := range g.Edges {
		wantEdges = append(wantEdges, [2]string{e.Src, e.Dst})
	}
	slices.Sort(wantNodes)
	got := slices.Sorted(slices.Values(dg.nodes))
	if !slices.Equal(wantNodes, got) {
		return fmt.Errorf("nodes %q, want %q", got, wantNodes)
	}
	if !slices.Equal(wantEdges, dg.edges) {
		return fmt.Errorf("edges %q, want %q", dg.edges, wantEdges)
	}
	return nil
}
