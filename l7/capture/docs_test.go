package capture

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"bulkhead.dev/bulkhead/l7"
)

// flowJSONDoc is the schema document of analyze's output.
const flowJSONDoc = "../../docs/flow-json.md"

// docSections splits a markdown document into its "## " sections by title.
func docSections(doc, prefix string) map[string]string {
	out := map[string]string{}
	parts := strings.Split("\n"+doc, "\n"+prefix)
	for _, p := range parts[1:] {
		title, body, _ := strings.Cut(p, "\n")
		out[title] = body
	}
	return out
}

// backticked returns the `names` of a text.
func backticked(s string) map[string]bool {
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(s, -1) {
		out[m[1]] = true
	}
	return out
}

// TestFlowJSONDoc keeps docs/flow-json.md true to the code: every field of
// every real-client golden output is documented (common fields in the
// common table, in the order written; each app's fields in the section of
// its key), every app has its name in the doc, and every note the engine,
// the parsers and analyze can add is in the notes table.
func TestFlowJSONDoc(t *testing.T) {
	raw, err := os.ReadFile(flowJSONDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	top := docSections(doc, "## ")
	common := top["Common fields"]
	var commonOrder []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(common, -1) {
		commonOrder = append(commonOrder, m[1])
	}
	if len(commonOrder) < 10 {
		t.Fatalf("common fields table not found (%d rows)", len(commonOrder))
	}
	// App sections: "### http — list", "### smtp, imap, pop3, ftp — objects".
	apps := map[string]string{}
	for title, body := range docSections(top["Per-protocol objects"], "### ") {
		keys, _, ok := strings.Cut(title, " — ")
		if !ok {
			t.Errorf("app section %q: want \"KEY — list|object\"", title)
		}
		for _, k := range strings.Split(keys, ", ") {
			apps[k] = body
		}
	}

	// Every app name is listed in the app row; every app but http2 (which
	// fills "http") has a section.
	appRow := backticked(regexp.MustCompile("(?m)^\\| `app` \\|.*$").FindString(common))
	for _, a := range l7.Apps() {
		if !appRow[a.String()] {
			t.Errorf("app %q missing from the app row of the common fields", a)
		}
		if _, ok := apps[a.String()]; !ok && a != l7.Unknown && a != l7.HTTP2 {
			t.Errorf("app %q has no section under Per-protocol objects", a)
		}
	}

	// Every field of the goldens is documented.
	goldens, err := filepath.Glob(filepath.Join("..", "testdata", "captures", "*.json"))
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, g := range goldens {
		data, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			checkDocumented(t, filepath.Base(g)+":"+strconv.Itoa(i+1), line, commonOrder, apps)
		}
	}
	// The example parses and is documented too.
	ex := regexp.MustCompile("(?s)```json\n(.*?)```").FindStringSubmatch(doc)
	if ex == nil {
		t.Fatal("no JSON example")
	}
	checkDocumented(t, "example", []byte(strings.ReplaceAll(ex[1], "\n", "")), commonOrder, apps)

	// Every protocol name the proto field can take is in its row.
	protoRow := backticked(regexp.MustCompile("(?m)^\\| `proto` \\|.*$").FindString(common))
	for p := 0; p < 256; p++ {
		if name := protoName(uint8(p)); !strings.HasPrefix(name, "ipproto-") && !protoRow[strconv.Quote(name)] {
			t.Errorf("proto %d is written %q, which the proto row does not list", p, name)
		}
	}

	// Every note is in the notes table.
	notes := top["Notes"]
	for _, n := range codeNotes(t) {
		if !strings.Contains(notes, n) {
			t.Errorf("note %q is not documented under Notes", n)
		}
	}
}

// checkDocumented checks one flow line against the documented fields.
func checkDocumented(t *testing.T, where string, line []byte, commonOrder []string, apps map[string]string) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Errorf("%s: not a JSON object", where)
		return
	}
	last := -1
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Errorf("%s: %v", where, err)
			return
		}
		key := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Errorf("%s: %v", where, err)
			return
		}
		if i := slices.Index(commonOrder, key); i >= 0 {
			if i < last {
				t.Errorf("%s: field %q written out of the documented order", where, key)
			}
			last = i
			continue
		}
		section, ok := apps[key]
		if !ok {
			t.Errorf("%s: key %q is neither a common field nor an app section", where, key)
			continue
		}
		documented := backticked(section)
		seen := map[string]bool{}
		for _, f := range jsonFields(v) {
			if !documented[f] && !seen[f] {
				seen[f] = true
				t.Errorf("%s: field %q of %q is not documented in its section", where, f, key)
			}
		}
	}
}

// jsonFields returns the object keys found anywhere in v.
func jsonFields(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			out = append(out, k)
			out = append(out, jsonFields(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, jsonFields(e)...)
		}
	}
	return out
}

// codeNotes returns the notes the code can add: the string constants named
// Note… or note… of l7 and l7/capture, and the string literals passed to
// Note and upgraded (a literal that starts a concatenation counts for its
// fixed part).
func codeNotes(t *testing.T) []string {
	t.Helper()
	var notes []string
	add := func(e ast.Expr) {
		for {
			b, ok := e.(*ast.BinaryExpr)
			if !ok {
				break
			}
			e = b.X
		}
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if s, err := strconv.Unquote(lit.Value); err == nil {
				notes = append(notes, s)
			}
		}
	}
	fset := token.NewFileSet()
	for _, dir := range []string{"..", "."} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.ValueSpec:
					for i, id := range x.Names {
						if (strings.HasPrefix(id.Name, "Note") || strings.HasPrefix(id.Name, "note")) && i < len(x.Values) {
							add(x.Values[i])
						}
					}
				case *ast.CallExpr:
					var fn string
					switch f := x.Fun.(type) {
					case *ast.SelectorExpr:
						fn = f.Sel.Name
					case *ast.Ident:
						fn = f.Name
					}
					if (fn == "Note" || fn == "upgraded") && len(x.Args) > 0 {
						add(x.Args[0])
					}
				}
				return true
			})
		}
	}
	if len(notes) < 20 {
		t.Fatalf("found only %d notes in the code", len(notes))
	}
	return notes
}
