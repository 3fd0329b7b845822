package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"bulkhead.dev/bulkhead/internal/golden"
	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/l7/capture"
)

// analyzeCaptures is where the real-client captures and their goldens
// (made by the l7 capture makers) live.
const analyzeCaptures = "../../l7/testdata/captures"

// runAnalyze runs "bulkhead analyze args..." through the command line entry
// point and returns its exit status and output.
func runAnalyzeCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"analyze"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// readGolden returns a capture's golden JSON (one line per flow).
func readGolden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(analyzeCaptures, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAnalyzeJSON: the command prints, for every real-client capture, the
// flow JSON of its golden file (JSON is the default when stdout is not a
// terminal, and --format json says so explicitly).
func TestAnalyzeJSON(t *testing.T) {
	pcaps, err := filepath.Glob(filepath.Join(analyzeCaptures, "*.pcap"))
	if err != nil || len(pcaps) == 0 {
		t.Fatalf("no captures in %s: %v", analyzeCaptures, err)
	}
	for _, pcap := range pcaps {
		name := strings.TrimSuffix(filepath.Base(pcap), ".pcap")
		t.Run(name, func(t *testing.T) {
			want := readGolden(t, name)
			for _, args := range [][]string{{pcap}, {"--format", "json", pcap}} {
				code, stdout, stderr := runAnalyzeCmd(t, args...)
				if code != 0 || stderr != "" {
					t.Fatalf("analyze %q: exit %d, stderr %q", args, code, stderr)
				}
				if diff := cmp.Diff(strings.Split(want, "\n"), strings.Split(stdout, "\n")); diff != "" {
					t.Errorf("analyze %q differs from %s.json (-want +got):\n%s", args, name, diff)
				}
			}
		})
	}
}

// TestAnalyzeTable: --format table prints, per file, a header line and an
// aligned table (compared with testdata/analyze/table.golden).
func TestAnalyzeTable(t *testing.T) {
	files := []string{filepath.Join(analyzeCaptures, "http-keepalive.pcap"), filepath.Join(analyzeCaptures, "kafka.pcap"),
		filepath.Join(analyzeCaptures, "dns-udp.pcap")}
	code, stdout, stderr := runAnalyzeCmd(t, append([]string{"--format", "table"}, files...)...)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	golden.Check(t, "testdata/analyze/table.golden", []byte(stdout))
	// The shape, whatever the golden says: a header per file, then the
	// column titles, and one row per flow of the JSON output.
	for _, f := range files {
		if !strings.Contains(stdout, "== "+f+"\nPROTO  ") {
			t.Errorf("no header and column titles for %s", f)
		}
	}
	rows := strings.Count(stdout, "\ntcp ") + strings.Count(stdout, "\nudp ")
	flows := 0
	for _, name := range []string{"http-keepalive", "kafka", "dns-udp"} {
		flows += strings.Count(readGolden(t, name), "\n")
	}
	if rows != flows {
		t.Errorf("%d table rows, want %d (one per flow)", rows, flows)
	}
}

// TestAnalyzeBadFiles: a file that is not a capture and a file that does
// not exist each get one error line naming them; the other files are still
// analysed, and the exit status is 1.
func TestAnalyzeBadFiles(t *testing.T) {
	dir := t.TempDir()
	notCapture := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notCapture, []byte("these are notes about the capture, not a capture\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pcap")
	redis := filepath.Join(analyzeCaptures, "redis.pcap")
	ssh := filepath.Join(analyzeCaptures, "ssh.pcap")
	tests := []struct {
		name    string
		args    []string
		bad     []string // files named by one error line each
		summary string
		out     []string // the captures whose flows are printed, in order
	}{
		{
			name:    "not a capture between two captures",
			args:    []string{redis, notCapture, ssh},
			bad:     []string{notCapture + ": not a pcap or pcapng capture: starts with bytes 74686573"},
			summary: "bulkhead analyze: 1 of 3 files could not be analysed",
			out:     []string{"redis", "ssh"},
		},
		{
			name:    "missing file",
			args:    []string{missing, redis},
			bad:     []string{"open " + missing + ": no such file or directory"},
			summary: "bulkhead analyze: 1 of 2 files could not be analysed",
			out:     []string{"redis"},
		},
		{
			name: "only bad files",
			args: []string{notCapture, missing},
			bad: []string{notCapture + ": not a pcap or pcapng capture: starts with bytes 74686573",
				"open " + missing + ": no such file or directory"},
			summary: "bulkhead analyze: 2 of 2 files could not be analysed",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runAnalyzeCmd(t, tc.args...)
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			want := ""
			for _, name := range tc.out {
				want += readGolden(t, name)
			}
			if diff := cmp.Diff(want, stdout); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if len(lines) != len(tc.bad)+1 {
				t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(tc.bad)+1, stderr)
			}
			for i, b := range tc.bad {
				if !strings.HasPrefix(lines[i], "bulkhead analyze: "+b) {
					t.Errorf("error line %d = %q, want it to start with %q", i, lines[i], "bulkhead analyze: "+b)
				}
			}
			if got := lines[len(lines)-1]; got != tc.summary {
				t.Errorf("last line %q, want %q", got, tc.summary)
			}
		})
	}
}

// TestAnalyzeVerbose: -v adds, per file, one line of what was read (packets,
// flows, what was not IP or was malformed…) to stderr; stdout is the same.
func TestAnalyzeVerbose(t *testing.T) {
	files := []string{filepath.Join(analyzeCaptures, "dns-udp.pcap"), filepath.Join(analyzeCaptures, "redis.pcap")}
	code, stdout, stderr := runAnalyzeCmd(t, append([]string{"-v"}, files...)...)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if diff := cmp.Diff(readGolden(t, "dns-udp")+readGolden(t, "redis"), stdout); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != len(files) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(files), stderr)
	}
	// dns-udp.pcap: 10 packets, 5 flows (its golden has one line per flow).
	want := `level=DEBUG msg="capture read" file=` + files[0] +
		" packets=10 bytes=1165 flows=5 not_ip=0 malformed=0 fragments=0 reassembled=0 fragments_dropped=0 evicted=0"
	if !strings.HasSuffix(lines[0], want) {
		t.Errorf("first line %q, want it to end with %q", lines[0], want)
	}
	if !strings.Contains(lines[1], "file="+files[1]+" packets=") {
		t.Errorf("second line %q does not name %s", lines[1], files[1])
	}
}

// TestAnalyzeSeveralFiles: the flows of several captures are printed file
// after file, in the order given.
func TestAnalyzeSeveralFiles(t *testing.T) {
	names := []string{"tls-openssl", "dns-tcp", "mysql", "quic-v1"}
	var args []string
	want := ""
	for _, n := range names {
		args = append(args, filepath.Join(analyzeCaptures, n+".pcap"))
		want += readGolden(t, n)
	}
	code, stdout, stderr := runAnalyzeCmd(t, args...)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if diff := cmp.Diff(strings.Split(want, "\n"), strings.Split(stdout, "\n")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestAnalyzeUsage: bad command lines exit with status 2 and print the
// usage line; nothing is analysed.
func TestAnalyzeUsage(t *testing.T) {
	pcap := filepath.Join(analyzeCaptures, "redis.pcap")
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"no file", nil, "no capture file given"},
		{"unknown format", []string{"--format", "xml", pcap}, `unknown format "xml" (want json or table)`},
		{"unknown flag", []string{"--colour", pcap}, "flag provided but not defined: -colour"},
		{"zero max flows", []string{"--max-flows", "0", pcap}, "--max-flows must be positive, got 0"},
		{"negative idle timeout", []string{"--idle-timeout", "-1s", pcap}, "--idle-timeout must be positive, got -1s"},
		{"negative max buffer", []string{"--max-buffer", "-5", pcap}, "--max-buffer must be positive, got -5"},
		{"zero max buffer total", []string{"--max-buffer-total", "0", pcap}, "--max-buffer-total must be positive, got 0"},
		{"bad duration", []string{"--idle-timeout", "soon", pcap}, `invalid value "soon" for flag -idle-timeout`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runAnalyzeCmd(t, tc.args...)
			if code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if !strings.Contains(stderr, tc.msg) || !strings.Contains(stderr, "usage: bulkhead analyze ") {
				t.Errorf("stderr %q, want %q and the usage line", stderr, tc.msg)
			}
		})
	}
}

// TestAnalyzeKafkaAcrossFiles: the files of one command share the Kafka
// topic names their responses announce. The kafka capture is split in two:
// the connections that asked for metadata or created topics, and the others
// (produce, fetch). Alone, the second file has topic ids only; after the
// first, names.
func TestAnalyzeKafkaAcrossFiles(t *testing.T) {
	src := filepath.Join(analyzeCaptures, "kafka.pcap")
	naming := map[uint16]bool{} // client ports of the connections that learn names
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := capture.Analyze(context.Background(), f, capture.Options{}, func(r *capture.Record) error {
		b, err := r.AppendJSON(nil)
		if s := string(b); strings.Contains(s, `"api":"METADATA"`) || strings.Contains(s, `"api":"CREATE_TOPICS"`) {
			naming[r.Sport] = true
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(naming) == 0 {
		t.Fatal("no connection of kafka.pcap asks for metadata")
	}
	dir := t.TempDir()
	meta, rest := filepath.Join(dir, "metadata.pcap"), filepath.Join(dir, "produce.pcap")
	splitPcap(t, src, meta, rest, func(tcp *layers.TCP) bool {
		return naming[uint16(tcp.SrcPort)] || naming[uint16(tcp.DstPort)]
	})

	_, alone, _ := runAnalyzeCmd(t, rest)
	if !strings.Contains(alone, l7.NoteKafkaTopicUnresolved) {
		t.Errorf("produce connections alone: want topic ids with the note, got\n%s", alone)
	}
	code, both, stderr := runAnalyzeCmd(t, meta, rest)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if strings.Contains(both, l7.NoteKafkaTopicUnresolved) || !strings.Contains(both, `"topics":["orders"`) {
		t.Errorf("after the metadata file, topic ids should have names:\n%s", both)
	}
}

// splitPcap copies the TCP packets of src for which first holds to a, the
// others to b.
func splitPcap(t *testing.T, src, a, b string, first func(*layers.TCP) bool) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r, err := pcapgo.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	var outs [2]*pcapgo.Writer
	for i, name := range []string{a, b} {
		f, err := os.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		outs[i] = pcapgo.NewWriter(f)
		if err := outs[i].WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
			t.Fatal(err)
		}
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok {
			continue
		}
		out := outs[1]
		if first(tcp) {
			out = outs[0]
		}
		if err := out.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
}

// TestIsTerminal: a terminal is one (the master side of a pseudo-terminal
// answers terminal requests); /dev/null, a file and a pipe, which are not,
// get JSON and no progress bar.
func TestIsTerminal(t *testing.T) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	tests := []struct {
		name string
		w    io.Writer
		want bool
	}{
		{"/dev/null", devNull, false},
		{"file", file, false},
		{"pipe", w, false},
		{"buffer", &bytes.Buffer{}, false},
	}
	if ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0); err == nil {
		defer ptmx.Close()
		tests = append(tests, struct {
			name string
			w    io.Writer
			want bool
		}{"pseudo-terminal", ptmx, true})
	} else {
		t.Logf("no pseudo-terminal to test with: %v", err)
	}
	for _, tc := range tests {
		if got := isTerminal(tc.w); got != tc.want {
			t.Errorf("isTerminal(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
