package deploy_test

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN…
	args string
}

// stage is one FROM and what follows it.
type stage struct {
	image, name string
	instrs      []instruction
}

// parseDockerfile splits a Dockerfile into stages of instructions. It
// knows comments, parser directives and backslash continuations, which is
// all the syntax this Dockerfile uses.
func parseDockerfile(text string) ([]stage, error) {
	var (
		stages []stage
		cur    strings.Builder
		start  int
	)
	flush := func() error {
		s := strings.TrimSpace(cur.String())
		cur.Reset()
		if s == "" {
			return nil
		}
		cmd, args, _ := strings.Cut(s, " ")
		in := instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			st := stage{image: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			} else if len(f) != 1 {
				return fmt.Errorf("line %d: FROM %s: want IMAGE [AS NAME]", in.line, in.args)
			}
			stages = append(stages, st)
			return nil
		}
		if len(stages) == 0 {
			if in.cmd == "ARG" {
				return nil
			}
			return fmt.Errorf("line %d: %s before the first FROM", in.line, in.cmd)
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
		return nil
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if body, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(trimmed)
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("line %d: continuation at end of file", start)
	}
	return stages, flush()
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	stages, err := parseDockerfile(string(b))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a final stage", len(stages))
	}
	var names []string
	for _, st := range stages {
		if !slices.Contains(names, st.image) {
			repo, tag, ok := strings.Cut(st.image, ":")
			if strings.Contains(st.image, "@sha256:") {
				ok, tag = true, "digest"
			}
			if !ok || tag == "" || tag == "latest" || strings.Contains(repo, "/latest") {
				t.Errorf("FROM %s: want an explicit tag or digest, never latest", st.image)
			}
		}
		names = append(names, st.name)
	}

	build := stages[0]
	goMod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(goMod)
	if goVersion == nil {
		t.Fatal("no go directive in go.mod")
	}
	if !strings.HasPrefix(build.image, "golang:"+string(goVersion[1])) {
		t.Errorf("build stage FROM %s: want golang:%s (go.mod's version)", build.image, goVersion[1])
	}
	if build.name == "" {
		t.Error("build stage has no name (FROM … AS build)")
	}
	if !slices.ContainsFunc(build.instrs, func(in instruction) bool {
		return in.cmd == "RUN" && strings.Contains(in.args, "CGO_ENABLED=0") && strings.Contains(in.args, "./cmd/bulkhead")
	}) {
		t.Error("build stage does not build ./cmd/bulkhead with CGO_ENABLED=0 (static binary)")
	}

	final := stages[len(stages)-1]
	has := func(cmd string, pred func(string) bool) bool {
		return slices.ContainsFunc(final.instrs, func(in instruction) bool { return in.cmd == cmd && pred(in.args) })
	}
	if !has("RUN", func(a string) bool { return regexp.MustCompile(`apt-get install .*\biptables\b`).MatchString(a) }) {
		t.Error("final stage does not install iptables (the agent runs iptables-restore)")
	}
	if !has("COPY", func(a string) bool { return strings.HasPrefix(a, "--from="+build.name+" ") }) {
		t.Errorf("final stage does not copy the binary from stage %s", build.name)
	}
	var user string
	for _, in := range final.instrs {
		if in.cmd == "USER" {
			user = in.args
		}
		if in.cmd == "ADD" {
			t.Errorf("line %d: ADD; use COPY (no remote URLs or archives)", in.line)
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); uid != "65532" {
		t.Errorf("final USER %q, want 65532 (non-root by default)", user)
	}
	if !has("ENTRYPOINT", func(a string) bool { return a == `["/usr/local/bin/bulkhead"]` }) {
		t.Error(`final stage ENTRYPOINT is not ["/usr/local/bin/bulkhead"] (exec form)`)
	}
}

// TestDockerignore checks the build context filter BuildKit reads beside
// the Dockerfile: it leaves out the repository's history and test data, and
// keeps what the build reads.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	for _, want := range []string{".git", "**/testdata"} {
		if !slices.Contains(patterns, want) {
			t.Errorf("Dockerfile.dockerignore does not exclude %s", want)
		}
	}
	for _, p := range patterns {
		for _, keep := range []string{"go.mod", "go.sum", "cmd", "deploy"} {
			if p == keep || p == keep+"/" || p == "*" {
				t.Errorf("Dockerfile.dockerignore excludes %s, which the build needs", p)
			}
		}
	}
}

func TestParseDockerfileRejects(t *testing.T) {
	for name, text := range map[string]string{
		"instruction before FROM": "RUN true\nFROM debian:12\n",
		"bad FROM":                "FROM a b c d\n",
		"dangling continuation":   "FROM debian:12\nRUN a \\\n",
	} {
		if _, err := parseDockerfile(text); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}
