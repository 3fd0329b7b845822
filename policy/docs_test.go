package policy_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
	"bulkhead.dev/bulkhead/policy/learn"
)

// TestDocExamples keeps docs/policy.md true: every YAML example is a valid
// policy, the JSON example is a valid graph, and the lists of apps and
// public suffixes match the code.
func TestDocExamples(t *testing.T) {
	data, err := os.ReadFile("../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	blocks := regexp.MustCompile("(?s)```(yaml|json)\n(.*?)```").FindAllStringSubmatch(doc, -1)
	var yamls, jsons int
	for _, b := range blocks {
		switch b[1] {
		case "yaml":
			yamls++
			pol, err := policy.Parse("docs/policy.md", []byte(b[2]))
			if err != nil {
				t.Errorf("example %d does not validate:\n%v\n%s", yamls, err, b[2])
				continue
			}
			if _, err := policy.Compile(pol); err != nil {
				t.Errorf("example %d does not compile: %v", yamls, err)
			}
		case "json":
			jsons++
			s, err := learn.ReadJSON(strings.NewReader(b[2]))
			if err != nil {
				t.Errorf("graph example does not read: %v", err)
				continue
			}
			if _, err := learn.Generate(s, learn.Options{}); err != nil {
				t.Errorf("graph example does not generate: %v", err)
			}
		}
	}
	if yamls < 4 || jsons != 1 {
		t.Errorf("found %d YAML and %d JSON examples", yamls, jsons)
	}
	apps := regexp.MustCompile("(?s)The apps are the names the L7 engine reports: (.*?); `unknown`").FindStringSubmatch(strings.Replace(doc, "**Apps**", "The apps", 1))
	if apps == nil {
		t.Fatal("app list not found in docs/policy.md")
	}
	var want []string
	for _, a := range l7.Apps() {
		want = append(want, "`"+a.String()+"`")
	}
	if got := strings.Join(strings.Fields(apps[1]), " "); got != strings.Join(want, ", ") {
		t.Errorf("docs list apps\n%s\nthe engine has\n%s", got, strings.Join(want, ", "))
	}
	suffixes := regexp.MustCompile(`(?s)The built-in public suffixes are:\s*(.*?)\. A wildcard`).FindStringSubmatch(doc)
	if suffixes == nil {
		t.Fatal("public suffix list not found in docs/policy.md")
	}
	n := 0
	for _, s := range strings.Split(strings.Join(strings.Fields(suffixes[1]), " "), ", ") {
		n++
		if !learn.PublicSuffix(s) {
			t.Errorf("docs list %q as a public suffix; the code does not", s)
		}
	}
	if n != learn.PublicSuffixCount() {
		t.Errorf("docs list %d public suffixes, the code has %d", n, learn.PublicSuffixCount())
	}
}
