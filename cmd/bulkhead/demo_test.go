package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/testenv"
	"bulkhead.dev/bulkhead/testenv/scenario"
)

func TestDemoCommandLine(t *testing.T) {
	for _, tt := range []struct {
		args []string
		euid int
		want string
		code int
	}{
		{[]string{"extra"}, 0, `unexpected argument "extra"`, 2},
		{[]string{"--name", "a-b"}, 0, `bad test bed name "a-b"`, 2},
		{[]string{"--bogus"}, 0, "flag provided but not defined: -bogus", 2},
		{nil, 1000, "run it as root (sudo make demo)", 1},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			old := demoEUID
			demoEUID = func() int { return tt.euid }
			defer func() { demoEUID = old }()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"demo"}, tt.args...), &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("bulkhead demo %v: exit %d, stderr %q; want %d and %q", tt.args, code, stderr.String(), tt.code, tt.want)
			}
			if stdout.Len() > 0 {
				t.Errorf("bulkhead demo %v printed %q before refusing", tt.args, stdout.String())
			}
		})
	}
}

// TestDemo runs "bulkhead demo --keep" as the README says (make demo runs
// it without --keep): while the test bed is kept it tries two of the
// commands the demo prints, then interrupts it like a person pressing
// Ctrl-C, and checks the exit status, the summary table and that nothing is
// left behind.
func TestDemo(t *testing.T) {
	testenv.RequireRoot(t)
	bin, cleanup, err := testenv.Binary()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	name := fmt.Sprintf("t%d", os.Getpid())
	var stdout, stderr testenv.Buffer
	cmd := exec.Command(bin, "demo", "--name", name, "--keep")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
		// If the demo died without cleaning up, do it for it.
		if nss := testenv.BedNamespaces(name); len(nss) > 0 {
			exec.Command(bin, "testenv", "down", "--name", name).Run()
			t.Errorf("the demo left namespaces behind: %v", nss)
		}
		if t.Failed() {
			t.Logf("demo stdout:\n%s\ndemo stderr:\n%s", stdout.String(), stderr.String())
		}
	})

	// Wait for the --keep prompt (or an early exit).
	deadline := time.After(110 * time.Second)
	for !strings.Contains(stdout.String(), "Press Ctrl-C") {
		select {
		case err := <-exited:
			t.Fatalf("the demo exited before the --keep prompt: %v", err)
		case <-deadline:
			t.Fatal("no --keep prompt within 110s")
		case <-time.After(100 * time.Millisecond):
		}
	}

	// Two of the printed commands, run as printed.
	out := stdout.String()
	allowed := printedCommand(t, out, "/api/orders", "# allowed")
	blocked := printedCommand(t, out, "/admin", "# blocked")
	if got, err := runPrinted(bin, allowed); err != nil || !strings.Contains(got, `"last"`) {
		t.Errorf("%s: %v %q; want the api's answer", allowed, err, got)
	}
	if got, err := runPrinted(bin, blocked); err == nil || strings.Contains(got, "404") {
		t.Errorf("%s: %v %q; want curl to fail (the connection reset)", blocked, err, got)
	}

	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the demo exited with %v after Ctrl-C; want 0", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the demo did not finish within 60s of Ctrl-C")
	}
	checkSummary(t, stdout.String())
}

// printedCommand finds the printed "bulkhead testenv exec" command whose
// command ends with suffix and whose comment is comment.
func printedCommand(t *testing.T, out, suffix, comment string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		cmd, c, ok := strings.Cut(strings.TrimSpace(l), "#")
		cmd = strings.TrimSpace(cmd)
		if ok && strings.HasPrefix(cmd, "bulkhead testenv exec") && strings.HasSuffix(cmd, suffix) && "#"+c == comment {
			return cmd
		}
	}
	t.Fatalf("the demo printed no command ending with %q and commented %q", suffix, comment)
	return ""
}

// runPrinted runs a printed "bulkhead ..." command line with bin.
func runPrinted(bin, line string) (string, error) {
	f := strings.Fields(line)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, f[1:]...)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var summaryRow = regexp.MustCompile(`^\s+(.+?)\s{2,}(\S.*?)\s{2,}(yes|NO)\s{2,}(yes \(\d+ events?\)|no)\s{2,}(ok|FAILED)$`)

// checkSummary checks the table at the end: one row per attack, each
// blocked, reported, with normal traffic after it.
func checkSummary(t *testing.T, out string) {
	t.Helper()
	_, table, ok := strings.Cut(out, "\nSummary\n")
	if !ok {
		t.Fatal("no summary table")
	}
	sc := bufio.NewScanner(strings.NewReader(table))
	rows := map[string]bool{}
	for sc.Scan() {
		m := summaryRow.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		rows[m[2]] = true
		if m[3] != "yes" || m[4] == "no" || m[5] != "ok" {
			t.Errorf("summary row %q: want blocked, reported, ok", sc.Text())
		}
	}
	for _, a := range []string{
		"compromised → db:6379", "frontend → db:6379", "compromised → api, db: 200 ports",
		"frontend → api GET /admin", "frontend → api GET /api/../../etc/passwd",
		"api → dns: random-label queries", "api → " + scenario.UnknownIP.String() + ":443",
	} {
		if !rows[a] {
			t.Errorf("no summary row for %q (rows: %v)", a, rows)
		}
	}
	if !strings.Contains(table, "Every attack was blocked and reported") {
		t.Errorf("the summary does not say every attack was blocked and reported")
	}
}

// TestDemoSummary checks the table and the verdict line for an attack that
// was neither blocked nor reported, and one that was both.
func TestDemoSummary(t *testing.T) {
	var out bytes.Buffer
	d := &demo{out: &out, start: time.Now()}
	d.outcomes = []scenario.Outcome{
		{Attack: scenario.Attack{Kind: "lateral movement", Short: "compromised → db:6379"}, Blocked: true, Reported: true,
			Events: make([]events.Event, 1), After: scenario.Result{OK: true}},
		{Attack: scenario.Attack{Kind: "port scan", Short: "compromised → api, db: 200 ports"}, After: scenario.Result{OK: false}},
	}
	d.fail("scan: 2 of 200 probes reached the target")
	d.summary()
	got := out.String()
	for _, want := range []string{
		"FAILED: scan: 2 of 200 probes reached the target",
		"lateral movement  compromised → db:6379             yes      yes (1 event)  ok",
		"port scan         compromised → api, db: 200 ports  NO       no             FAILED",
		"1 check failed",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Every attack was blocked") {
		t.Errorf("summary claims success:\n%s", got)
	}
}
