package scenario

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"bulkhead.dev/bulkhead/testenv"
)

// Counters are a namespace's protocol counters from /proc/net/snmp, keyed
// "Proto.Name" ("Tcp.PassiveOpens", "Udp.InDatagrams").
//
// They answer the question a client cannot: did anything reach the target?
// A TCP connection the target accepted counts in Tcp.PassiveOpens, a
// datagram delivered to one of its sockets in Udp.InDatagrams.
type Counters map[string]int64

// Counter names the attacks read.
const (
	TCPPassiveOpens = "Tcp.PassiveOpens"
	UDPInDatagrams  = "Udp.InDatagrams"
)

// ParseSNMP decodes the /proc/net/snmp format: pairs of lines with the same
// "Proto:" prefix, the first naming the fields, the second giving their
// values.
func ParseSNMP(b []byte) (Counters, error) {
	out := Counters{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	var header []string
	var proto string
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		p, rest, ok := strings.Cut(line, ":")
		if !ok || p == "" {
			return nil, fmt.Errorf("snmp: line %d: no \"Proto:\" prefix in %q", lineNo, line)
		}
		fields := strings.Fields(rest)
		if header == nil {
			proto, header = p, fields
			continue
		}
		if p != proto {
			return nil, fmt.Errorf("snmp: line %d: values for %q follow the names of %q", lineNo, p, proto)
		}
		if len(fields) != len(header) {
			return nil, fmt.Errorf("snmp: line %d: %s has %d names but %d values", lineNo, proto, len(header), len(fields))
		}
		for i, f := range fields {
			v, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("snmp: line %d: %s.%s: %w", lineNo, proto, header[i], err)
			}
			out[proto+"."+header[i]] = v
		}
		header = nil
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("snmp: %w", err)
	}
	if header != nil {
		return nil, fmt.Errorf("snmp: %s: names without values at the end", proto)
	}
	return out, nil
}

// Sub returns c - before for every counter of c.
func (c Counters) Sub(before Counters) Counters {
	out := make(Counters, len(c))
	for k, v := range c {
		out[k] = v - before[k]
	}
	return out
}

// ReadCounters reads the protocol counters of h's network namespace.
// /proc/thread-self/net shows the namespace of the reading thread, which
// Host.Do has moved into h's.
func ReadCounters(h *testenv.Host) (Counters, error) {
	var b []byte
	err := h.Do(func() (err error) {
		b, err = os.ReadFile("/proc/thread-self/net/snmp")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("scenario: read counters of %s: %w", h.Name, err)
	}
	c, err := ParseSNMP(b)
	if err != nil {
		return nil, fmt.Errorf("scenario: counters of %s: %w", h.Name, err)
	}
	return c, nil
}
