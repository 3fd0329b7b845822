package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxFileSize bounds one policy file.
const MaxFileSize = 16 << 20

// Load reads and validates a policy from files and directories. A directory
// contributes its *.yaml and *.yml files (not recursively, hidden files
// skipped), in name order. Every document of every file is merged into one
// Policy. On any problem the error is an ErrorList naming every one of them
// (file:line: field: message); the returned Policy is then nil.
func Load(paths ...string) (*Policy, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("policy: load: no file or directory given")
	}
	l := newLoader()
	for _, s := range l.read(paths) {
		l.file(s.Name, s.Data)
	}
	return l.finish()
}

// Source is one policy file's name (as it appears in positions and rule
// IDs) and contents.
type Source struct {
	Name string
	Data []byte
}

// ReadSources reads the files Load would read for paths, in the same order,
// without validating them. An error is an ErrorList naming every path that
// could not be read. With LoadSources it lets a caller validate, compile and
// keep exactly the same bytes (the agent saves them as its last good
// policy).
func ReadSources(paths ...string) ([]Source, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("policy: read: no file or directory given")
	}
	l := newLoader()
	srcs := l.read(paths)
	if err := l.e.err(); err != nil {
		return nil, err
	}
	return srcs, nil
}

// LoadSources validates a policy from file contents already read, in the
// order given: the result is what Load gives for files with those names and
// contents. Errors are an ErrorList, as with Load.
func LoadSources(srcs []Source) (*Policy, error) {
	if len(srcs) == 0 {
		return nil, fmt.Errorf("policy: load: no source given")
	}
	l := newLoader()
	for _, s := range srcs {
		if len(s.Data) > MaxFileSize {
			l.e.add(Pos{File: s.Name}, "", "read policy %s: larger than %d bytes", s.Name, MaxFileSize)
			continue
		}
		l.file(s.Name, s.Data)
	}
	return l.finish()
}

// read reads the files of paths, noting the paths it cannot read.
func (l *loader) read(paths []string) []Source {
	var srcs []Source
	for _, p := range paths {
		files, err := policyFiles(p)
		if err != nil {
			l.e.add(Pos{File: p}, "", "%v", err)
			continue
		}
		for _, f := range files {
			data, err := readFile(f)
			if err != nil {
				l.e.add(Pos{File: f}, "", "%v", err)
				continue
			}
			srcs = append(srcs, Source{Name: f, Data: data})
		}
	}
	return srcs
}

// Parse reads and validates a policy from the contents of one file; name is
// used in positions and rule IDs.
func Parse(name string, data []byte) (*Policy, error) {
	l := newLoader()
	l.file(name, data)
	return l.finish()
}

func policyFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("read policy directory: %w", err)
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") || !(strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) {
			continue
		}
		files = append(files, filepath.Join(path, n))
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("read policy directory: no *.yaml or *.yml file in %s", path)
	}
	return files, nil
}

func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read policy %s: %w", name, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("read policy %s: larger than %d bytes", name, MaxFileSize)
	}
	return data, nil
}

// ruleRefs are the positions of a rule's group references.
type ruleRefs struct{ from, to Pos }

type ruleMeta struct {
	field string
	refs  ruleRefs
	file  string
}

// loader accumulates documents and validates references across them.
type loader struct {
	e              errs
	pol            Policy
	groupFields    []string
	rules          []ruleMeta
	defaultField   string
	ruleCount      map[string]int    // per file
	baseOwner      map[string]string // file base name -> first file with unnamed rules
	derivedClashes map[string]bool
}

func newLoader() *loader {
	return &loader{ruleCount: map[string]int{}, baseOwner: map[string]string{}, derivedClashes: map[string]bool{}}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// file decodes every document of one file.
func (l *loader) file(name string, data []byte) {
	l.pol.Files = append(l.pol.Files, name)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	d := &decoder{file: name, e: &l.e, l: l}
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			msg := err.Error()
			pos := Pos{File: name}
			if m := yamlLine.FindStringSubmatch(msg); m != nil {
				pos.Line, _ = strconv.Atoi(m[1])
				msg = msg[len(m[0]):]
			}
			l.e.add(pos, "", "bad YAML: %s", strings.TrimPrefix(msg, "yaml: "))
			return
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
			continue
		}
		root := resolve(doc.Content[0])
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // an empty document
		}
		d.document(root)
	}
}

func (l *loader) setDefaultMode(m Mode, pos Pos, field string) {
	if l.pol.DefaultMode != ModeUnset && l.pol.DefaultMode != m {
		l.e.add(pos, field, "defaultMode %s conflicts with defaultMode %s set at %s", m, l.pol.DefaultMode, l.pol.DefaultModePos)
		return
	}
	if l.pol.DefaultMode == ModeUnset {
		l.pol.DefaultMode, l.pol.DefaultModePos, l.defaultField = m, pos, field
	}
}

func (l *loader) addGroup(g Group, field string) {
	l.pol.Groups = append(l.pol.Groups, g)
	l.groupFields = append(l.groupFields, field)
}

func (l *loader) addRule(r Rule, field string, refs ruleRefs) {
	file := r.Pos.File
	l.ruleCount[file]++
	if r.Name != "" {
		r.ID = r.Name
	} else {
		base := filepath.Base(file)
		if owner, ok := l.baseOwner[base]; ok && owner != file && !l.derivedClashes[file] {
			l.derivedClashes[file] = true
			l.e.add(r.Pos, field, "unnamed rule: its id %s#rule-N would clash with rules of %s (same file name); name the rules or rename the file", base, owner)
		} else if !ok {
			l.baseOwner[base] = file
		}
		r.ID = base + "#rule-" + strconv.Itoa(l.ruleCount[file])
	}
	l.pol.Rules = append(l.pol.Rules, r)
	l.rules = append(l.rules, ruleMeta{field: field, refs: refs, file: file})
}

// finish validates names and references across all documents.
func (l *loader) finish() (*Policy, error) {
	p := &l.pol
	groups := map[string]*Group{}
	for i := range p.Groups {
		g := &p.Groups[i]
		if g.Name == "" {
			continue
		}
		if first, dup := groups[g.Name]; dup {
			l.e.add(g.Pos, subfield(l.groupFields[i], "name"), "duplicate group %q (first defined at %s)", g.Name, first.Pos)
			continue
		}
		groups[g.Name] = g
	}
	for i := range p.Groups {
		g := &p.Groups[i]
		if a := g.AutoPromote; a != nil && a.To != ModeUnset && g.Kind == GroupSelector {
			if m := p.ModeOf(g); m >= a.To {
				l.e.add(g.Pos, subfield(l.groupFields[i], "autoPromote.to"), "autoPromote.to %s is not above the group's mode %s", a.To, m)
			}
		}
	}
	ids := map[string]*Rule{}
	for i := range p.Rules {
		r := &p.Rules[i]
		m := l.rules[i]
		if first, dup := ids[r.ID]; dup && r.ID != "" && (r.Name != "" || !l.derivedClashes[m.file]) {
			l.e.add(r.Pos, subfield(m.field, "name"), "duplicate rule %q (first defined at %s)", r.ID, first.Pos)
		} else if !dup {
			ids[r.ID] = r
		}
		for _, ref := range []struct {
			name, field string
			pos         Pos
		}{{r.From, "from", m.refs.from}, {r.To, "to", m.refs.to}} {
			if ref.name == "" || ref.name == GroupWorld || ref.name == GroupHost {
				continue
			}
			if _, ok := groups[ref.name]; !ok {
				l.e.add(ref.pos, subfield(m.field, ref.field), "group %q is not defined%s", ref.name, suggest(ref.name, groups))
			}
		}
	}
	if err := l.e.err(); err != nil {
		return nil, err
	}
	return p, nil
}

// suggest names the defined group closest to name, if any is close.
func suggest(name string, groups map[string]*Group) string {
	best, bestD := "", 3
	for g := range groups {
		if d := editDistance(name, g); d < bestD || d == bestD && best != "" && g < best {
			best, bestD = g, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
