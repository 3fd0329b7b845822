package capture

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// Record is one flow of analyze's output. Its JSON form is the stable schema
// documented in docs/flow-json.md: the fields below in this order, then one
// key per protocol summary (sorted), then notes.
type Record struct {
	Proto   string     // "tcp", "udp", "icmp", "icmpv6", or the IP protocol's keyword
	Src     netip.Addr // the client
	Sport   uint16
	Dst     netip.Addr // the server
	Dport   uint16
	First   time.Time
	Last    time.Time
	Packets [2]uint64 // client→server, server→client
	Bytes   [2]uint64 // IP bytes, same order
	App     string    // lowercase app name or "unknown"
	// Protocols holds the per-protocol objects ("http", "tls", "dns",
	// "redis"…), as the parsers' Summary returned them.
	Protocols map[string]any
	Notes     []string
}

// TimeFormat is how first and last are written: RFC 3339, UTC, always with
// nine fractional digits.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// MarshalJSON implements json.Marshaler with a fixed field order.
func (r *Record) MarshalJSON() ([]byte, error) {
	return r.AppendJSON(nil)
}

// AppendJSON appends the JSON object of r to b.
func (r *Record) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"proto":`...)
	b = strconv.AppendQuote(b, r.Proto)
	b = append(b, `,"src":"`...)
	b = r.Src.AppendTo(b)
	b = append(b, `","sport":`...)
	b = strconv.AppendUint(b, uint64(r.Sport), 10)
	b = append(b, `,"dst":"`...)
	b = r.Dst.AppendTo(b)
	b = append(b, `","dport":`...)
	b = strconv.AppendUint(b, uint64(r.Dport), 10)
	b = append(b, `,"first":"`...)
	b = r.First.UTC().AppendFormat(b, TimeFormat)
	b = append(b, `","last":"`...)
	b = r.Last.UTC().AppendFormat(b, TimeFormat)
	b = append(b, `","packets":[`...)
	b = strconv.AppendUint(b, r.Packets[0], 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, r.Packets[1], 10)
	b = append(b, `],"bytes":[`...)
	b = strconv.AppendUint(b, r.Bytes[0], 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, r.Bytes[1], 10)
	b = append(b, `],"app":`...)
	b = strconv.AppendQuote(b, r.App)
	for _, k := range r.protocolKeys() {
		v, err := json.Marshal(r.Protocols[k])
		if err != nil {
			return nil, fmt.Errorf("capture: marshal %q summary: %w", k, err)
		}
		b = append(b, ',')
		b = strconv.AppendQuote(b, k)
		b = append(b, ':')
		b = append(b, v...)
	}
	if len(r.Notes) > 0 {
		b = append(b, `,"notes":`...)
		v, err := json.Marshal(r.Notes)
		if err != nil {
			return nil, err
		}
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

// less orders records by first packet time, then 5-tuple.
func (r *Record) less(o *Record) bool {
	if !r.First.Equal(o.First) {
		return r.First.Before(o.First)
	}
	if r.Proto != o.Proto {
		return r.Proto < o.Proto
	}
	if c := r.Src.Compare(o.Src); c != 0 {
		return c < 0
	}
	if r.Sport != o.Sport {
		return r.Sport < o.Sport
	}
	if c := r.Dst.Compare(o.Dst); c != 0 {
		return c < 0
	}
	return r.Dport < o.Dport
}

// protoName names an IP protocol for Record.Proto.
func protoName(p uint8) string {
	switch p {
	case protoTCP:
		return "tcp"
	case protoUDP:
		return "udp"
	case protoICMP:
		return "icmp"
	case protoICMPv6:
		return "icmpv6"
	case 2:
		return "igmp"
	case 4:
		return "ipip"
	case 41:
		return "ipv6"
	case 47:
		return "gre"
	case 50:
		return "esp"
	case 51:
		return "ah"
	case 89:
		return "ospf"
	case 103:
		return "pim"
	case 112:
		return "vrrp"
	case 132:
		return "sctp"
	case 136:
		return "udplite"
	}
	return "ipproto-" + strconv.Itoa(int(p))
}

// protocolKeys returns the keys of r.Protocols in the order they are
// written: sorted.
func (r *Record) protocolKeys() []string {
	return slices.Sorted(maps.Keys(r.Protocols))
}
