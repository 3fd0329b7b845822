package capture

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
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
	for _, k := range r.protocolKeys() {
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
	str := func(m map[string]any, k string) string { return fieldText(m[k]) }
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
	var s string
	switch {
	case list != nil:
		s = describeEntries(list)
	case obj != nil:
		s = describeObject(obj)
	default:
		b, _ := json.Marshal(v)
		s = string(b)
	}
	if r := []rune(s); len(r) > 100 {
		s = string(r[:97]) + "..."
	}
	return s
}

// Keys of the other apps' objects (docs/flow-json.md) that describe an
// entry of a list: its verb, then its argument.
var (
	verbKeys = []string{"command", "api", "method", "op", "opcode", "type", "mode"}
	argKeys  = []string{"topics", "topic", "subject", "path", "statement", "queue", "routing_key", "exchange", "database", "hostname"}
	// objKeys are the fields of an app object shown as key=value, and
	// listKeys the fields holding its list of requests.
	objKeys  = []string{"client", "server", "user", "database", "client_id", "client_name", "vhost", "version", "protocol", "server_version"}
	listKeys = []string{"commands", "queries", "packets", "requests", "methods", "messages"}
)

// describeEntries describes the first entries of a list of requests:
// "PRODUCE orders,audit, FETCH orders (+3 more)".
func describeEntries(list []any) string {
	var parts []string
	for _, e := range list {
		if len(parts) == 3 {
			break
		}
		switch x := e.(type) {
		case string:
			parts = append(parts, x)
		case map[string]any:
			verb, arg := firstField(x, verbKeys), firstField(x, argKeys)
			parts = append(parts, strings.TrimSpace(verb+" "+arg))
		}
	}
	s := strings.Join(parts, ", ")
	if len(list) > len(parts) {
		s += fmt.Sprintf(" (+%d more)", len(list)-len(parts))
	}
	return s
}

// describeObject describes an app object: its identifying fields, then its
// list of requests.
func describeObject(obj map[string]any) string {
	var parts []string
	for _, k := range objKeys {
		if v := fieldText(obj[k]); v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	for _, k := range listKeys {
		if l, ok := obj[k].([]any); ok && len(l) > 0 {
			parts = append(parts, describeEntries(l))
			break
		}
	}
	return strings.Join(parts, " ")
}

// firstField returns the text of the first of keys that m has.
func firstField(m map[string]any, keys []string) string {
	for _, k := range keys {
		if v := fieldText(m[k]); v != "" {
			return v
		}
	}
	return ""
}

// fieldText is a JSON value as short text: strings as they are, numbers,
// lists joined with commas.
func fieldText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		var s []string
		for _, e := range x {
			s = append(s, fieldText(e))
		}
		return strings.Join(s, ",")
	}
	return ""
}
