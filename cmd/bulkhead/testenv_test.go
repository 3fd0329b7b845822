package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"bulkhead.dev/bulkhead/testenv"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestTestenvCommandErrors needs no root: every bad command line is refused
// before anything is built, with an error naming the bad input.
func TestTestenvCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"testenv"}, 2, "missing verb"},
		{[]string{"testenv", "sideways"}, 2, `unknown verb "sideways"`},
		{[]string{"testenv", "up", "--name", "a-b"}, 1, `bad test bed name "a-b"`},
		{[]string{"testenv", "up", "--name", "x", "--topology", "mesh"}, 1, `unknown topology "mesh"`},
		{[]string{"testenv", "up", "--name", "x", "--external", "inet=300.1.1.1"}, 1, `bad address "300.1.1.1"`},
		{[]string{"testenv", "up", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"testenv", "exec", "--name", "nosuchbed", "web", "--", "true"}, 1, `no host "web" in test bed "nosuchbed"`},
		{[]string{"testenv", "exec", "--name", "x", "web"}, 2, "want HOST -- COMMAND"},
		{[]string{"testenv", "down", "--name", "nosuchbed"}, 1, `no test bed named "nosuchbed"`},
	} {
		code, _, stderr := runCLI(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("bulkhead %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), code, stderr, tc.code, tc.want)
		}
	}
}

// TestTestenvCommandLifecycle builds a test bed with the command, runs a
// program in it, refuses a duplicate, lists it and removes it.
func TestTestenvCommandLifecycle(t *testing.T) {
	testenv.RequireRoot(t)
	name := fmt.Sprintf("t%d", os.Getpid())
	t.Cleanup(func() { runCLI("testenv", "down", "--name", name) })

	code, out, stderr := runCLI("testenv", "up", "--name", name, "--topology", "routed", "--containers", "web,db-1", "--external", "internet=198.19.200.10")
	if code != 0 {
		t.Fatalf("up: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"routed topology", "web", "db-1", "internet (external)", "198.19.200.10", "bh-" + name + "-node"} {
		if !strings.Contains(out, want) {
			t.Errorf("up output lacks %q:\n%s", want, out)
		}
	}
	if code, _, stderr := runCLI("testenv", "up", "--name", name); code == 0 || !strings.Contains(stderr, "already exists") {
		t.Errorf("second up: exit %d, %q; want a refusal naming the existing bed", code, stderr)
	}
	if _, err := os.Stat("/run/netns/bh-" + name + "-db-1"); err != nil {
		t.Errorf("container namespace with a '-' in its name: %v", err)
	}
	if code, out, _ := runCLI("testenv", "list"); code != 0 || !strings.Contains(out, name+":") {
		t.Errorf("list: exit %d:\n%s", code, out)
	}
	// exec runs the program in the container's namespace and passes its
	// exit status on. Its output goes to the process's own stdout.
	if code, _, stderr := runCLI("testenv", "exec", "--name", name, "web", "--", "ip", "-o", "addr", "show", "dev", "eth0"); code != 0 {
		t.Errorf("exec ip addr: exit %d: %s", code, stderr)
	}
	if code, _, _ := runCLI("testenv", "exec", "--name", name, "web", "--", "sh", "-c", "exit 3"); code != 3 {
		t.Errorf("exec exit 3: got exit %d", code)
	}
	if code, out, stderr := runCLI("testenv", "down", "--name", name); code != 0 || !strings.Contains(out, "removed") {
		t.Fatalf("down: exit %d: %s %s", code, out, stderr)
	}
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "bh-"+name+"-") {
			t.Errorf("namespace %s left after down", e.Name())
		}
	}
}
