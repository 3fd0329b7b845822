package decide

import (
	"testing"

	"bulkhead.dev/bulkhead/dataplane"
)

func TestICMPMessage(t *testing.T) {
	tests := []struct {
		proto     dataplane.Proto
		typ, code uint8
		want      string
	}{
		{dataplane.ProtoICMP, 8, 0, "icmp echo-request"},
		{dataplane.ProtoICMP, 13, 0, "icmp timestamp-request"},
		{dataplane.ProtoICMP, 3, 3, "icmp destination-unreachable code 3"},
		{dataplane.ProtoICMP, 42, 0, "icmp type 42"},
		{dataplane.ProtoICMP, 42, 7, "icmp type 42 code 7"},
		{dataplane.ProtoICMPv6, 128, 0, "icmpv6 echo-request"},
		{dataplane.ProtoICMPv6, 135, 0, "icmpv6 neighbour-solicitation"},
		{dataplane.ProtoICMPv6, 8, 0, "icmpv6 type 8"},
	}
	for _, tt := range tests {
		p := &dataplane.Packet{Proto: tt.proto, ICMPType: tt.typ, ICMPCode: tt.code}
		if got := icmpMessage(p); got != tt.want {
			t.Errorf("icmpMessage(%v type %d code %d) = %q, want %q", tt.proto, tt.typ, tt.code, got, tt.want)
		}
	}
}
