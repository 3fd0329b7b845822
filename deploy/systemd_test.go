package deploy_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// unitFile is a parsed systemd unit: section → key → values in order.
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, text string) unitFile {
	t.Helper()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("unit line %d: %q is not KEY=VALUE in a section", n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func (u unitFile) get(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile("systemd/bulkhead.service")
	if err != nil {
		t.Fatal(err)
	}
	u := parseUnit(t, string(b))
	for key, want := range map[string]string{
		"Type":            "simple",
		"Restart":         "on-failure",
		"ProtectSystem":   "strict",
		"NoNewPrivileges": "yes",
		"StateDirectory":  "bulkhead",
		"ExecStart":       "/usr/local/bin/bulkhead agent --config=/etc/bulkhead/agent.yaml",
	} {
		if got := u.get("Service", key); got != want {
			t.Errorf("[Service] %s=%q, want %q", key, got, want)
		}
	}
	caps := strings.Fields(u.get("Service", "CapabilityBoundingSet"))
	if diff := cmp.Diff([]string{"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_SYS_ADMIN"}, slices.Sorted(slices.Values(caps))); diff != "" {
		t.Errorf("CapabilityBoundingSet (-want +got):\n%s", diff)
	}
	rw := strings.Fields(u.get("Service", "ReadWritePaths"))
	for _, p := range []string{"/var/lib/bulkhead", "/run/bulkhead"} {
		if !slices.Contains(rw, p) {
			t.Errorf("ReadWritePaths %v lacks %s", rw, p)
		}
	}
	if u.get("Install", "WantedBy") != "multi-user.target" {
		t.Error("[Install] WantedBy=multi-user.target missing")
	}
}

// TestSystemdVerify runs systemd-analyze on a copy of the unit whose
// binary path points at an executable that exists: "verify" must print
// nothing (it only warns, with exit status 0, about unknown keys or bad
// values), and the offline security analysis must rate it OK (≤ 5.0).
func TestSystemdVerify(t *testing.T) {
	analyze := requireTool(t, "systemd-analyze")
	dir := t.TempDir()
	bin := filepath.Join(dir, "bulkhead")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("systemd/bulkhead.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(dir, "bulkhead.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/bulkhead", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", unit).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command(analyze, "security", "--offline=yes", unit).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for bulkhead.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 5.0 {
		t.Errorf("exposure level %v, want ≤ 5.0", level)
	}
}
