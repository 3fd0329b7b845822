package capture

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// TableWriter prints records as an aligned, human-readable table: one line
// per flow with the client and server, the app, packet and byte counts in
// each direction, and the most telling attributes (first HTTP request, TLS
// SNI, DNS question…). Lines are buffered until Flush.
type TableWriter struct {
	tw     *tabwriter.Writer
	header bool
}

// NewTableWriter returns a TableWriter printing to w.
func NewTableWriter(w io.Writer) *TableWriter {
	return &TableWriter{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
}

// Write adds one record.
func (t *TableWriter) Write(r *Record) error {
	if !t.header {
		t.header = true
		fmt.Fprintln(t.tw, "PROTO\tCLIENT\tSERVER\tAPP\tPACKETS\tBYTES\tDETAILS")
	}
	_, err := fmt.Fprintf(t.tw, "%s\t%s\t%s\t%s\t%d/%d\t%d/%d\t%s\n",
		r.Proto, endpoint(r.Src, r.Sport), endpoint(r.Dst, r.Dport), r.App,
		r.Packets[0], r.Packets[1], r.Bytes[0], r.Bytes[1], details(r))
	return err
}

// Flush writes the buffered lines.
func (t *TableWriter) Flush() error { return t.tw.Flush() }

func endpoint(a netip.Addr, port uint16) string {
	return netip.AddrPortFrom(a, port).String()
}

// details summarises a record's protocol objects and notes in a few words.
func details(r *Record) string {
	var parts []string
	keys := make([]string, 0, len(r.Protocols))
	for k := range r.Protocols {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b, err := json.Marshal(r.Protocols[k])
		if err != nil {
			continue
		}
		var v any
		if json.Unmarshal(b, &v) != nil {
			continue
		}
		parts = append(parts, k+": "+describe(k, v))
	}
	for _, n := range r.Notes {
		parts = append(parts, "["+n+"]")
	}
	return strings.Join(parts, "; ")
}

func describe(key string, v any) string {
	list, _ := v.([]any)
	obj, _ := v.(map[string]any)
	str := func(m map[string]any, k string) string {
		switch x := m[k].(type) {
		case string:
			return x
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64)
		case []any:
			var s []string
			for _, e := range x {
				s = append(s, fmt.Sprint(e))
			}
			return strings.Join(s, ",")
		}
		return ""
	}
	more := func(n int) string {
		if n > 1 {
			return fmt.Sprintf(" (+%d more)", n-1)
		}
		return ""
	}
	switch {
	case key == "http" && len(list) > 0:
		m, _ := list[0].(map[string]any)
		return strings.TrimSpace(strings.Join([]string{str(m, "method"), str(m, "host") + str(m, "path"), str(m, "status")}, " ")) + more(len(list))
	case key == "grpc" && len(list) > 0:
		m, _ := list[0].(map[string]any)
		return str(m, "service") + "/" + str(m, "method") + more(len(list))
	case key == "dns" && len(list) > 0:
		m, _ := list[0].(map[string]any)
		return strings.TrimSpace(strings.Join([]string{str(m, "qname"), str(m, "qtype"), str(m, "rcode")}, " ")) + more(len(list))
	case (key == "tls" || key == "quic") && obj != nil:
		var s []string
		for _, k := range []string{"sni", "alpn", "version"} {
			if x := str(obj, k); x != "" {
				s = append(s, k+"="+x)
			}
		}
		return strings.Join(s, " ")
	}
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
