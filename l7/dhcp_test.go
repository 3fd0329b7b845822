package l7

import (
	"encoding/binary"
	"strings"
	"testing"
)

// dhcpMsg builds a BOOTP message with the magic cookie and options.
func dhcpMsg(op byte, xid uint32, yiaddr [4]byte, mac string, opts string) string {
	b := make([]byte, 236)
	b[0], b[1], b[2] = op, 1, 6
	binary.BigEndian.PutUint32(b[4:], xid)
	copy(b[16:], yiaddr[:])
	copy(b[28:], mac)
	return string(b) + "\x63\x82\x53\x63" + opts + "\xff"
}

// Messages as busybox udhcpc 1.35 and dnsmasq 2.90 exchange them
// (a real exchange is recorded in l7/testdata/captures/dhcp.pcap).
var (
	dhcpMAC      = "\x02\x42\xc6\x12\x00\x0b"
	dhcpDiscover = dhcpMsg(1, 0x1234abcd, [4]byte{}, dhcpMAC, "\x35\x01\x01"+"\x3d\x07\x01"+dhcpMAC+"\x0c\x05web-1"+"\x3c\x0cudhcp 1.35.0"+"\x37\x03\x01\x03\x06")
	dhcpOffer    = dhcpMsg(2, 0x1234abcd, [4]byte{198, 18, 0, 50}, dhcpMAC, "\x35\x01\x02"+"\x36\x04\xc6\x12\x00\x01"+"\x33\x04\x00\x00\x0e\x10")
	dhcpRequest  = dhcpMsg(1, 0x1234abcd, [4]byte{}, dhcpMAC, "\x35\x01\x03"+"\x32\x04\xc6\x12\x00\x32"+"\x36\x04\xc6\x12\x00\x01"+"\x0c\x05web-1")
	dhcpAck      = dhcpMsg(2, 0x1234abcd, [4]byte{198, 18, 0, 50}, dhcpMAC, "\x35\x01\x05"+"\x36\x04\xc6\x12\x00\x01")
)

func TestDHCPDetect(t *testing.T) {
	tests := []struct {
		in   string
		want Match
	}{
		{dhcpDiscover, Matched},
		{dhcpAck, Matched},
		{dhcpDiscover[:200], NoMatch},
		{strings.Replace(dhcpDiscover, "\x63\x82\x53\x63", "\x00\x00\x00\x00", 1), NoMatch},
		{"\x03" + dhcpDiscover[1:], NoMatch},
	}
	for _, tc := range tests {
		if got := detectDHCP(FromClient, []byte(tc.in)); got != tc.want {
			t.Errorf("detectDHCP(%q…) = %v, want %v", tc.in[:8], got, tc.want)
		}
	}
}

func TestDHCPParse(t *testing.T) {
	appsRunCases(t, DHCP, UDP, []appsCase{{
		name:   "lease",
		chunks: []appsChunk{cli(dhcpDiscover), srv(dhcpOffer), cli(dhcpRequest), srv(dhcpAck)},
		want: []string{
			`req dhcp Command="DISCOVER" Host="web-1" ClientID="02:42:c6:12:00:0b"`,
			`resp dhcp Status=2`,
			`req dhcp Command="REQUEST" Host="web-1" ClientID="02:42:c6:12:00:0b"`,
			`resp dhcp Status=5`,
		},
		summary: `[{"type":"DISCOVER","xid":305441741,"client_mac":"02:42:c6:12:00:0b","hostname":"web-1","vendor_class":"udhcp 1.35.0"},
			{"type":"OFFER","xid":305441741,"client_mac":"02:42:c6:12:00:0b","your_ip":"198.18.0.50","server_id":"198.18.0.1"},
			{"type":"REQUEST","xid":305441741,"client_mac":"02:42:c6:12:00:0b","hostname":"web-1","requested_ip":"198.18.0.50","server_id":"198.18.0.1"},
			{"type":"ACK","xid":305441741,"client_mac":"02:42:c6:12:00:0b","your_ip":"198.18.0.50","server_id":"198.18.0.1"}]`,
	}, {
		name:    "fuzzed type, truncated options",
		chunks:  []appsChunk{cli(dhcpMsg(1, 1, [4]byte{}, dhcpMAC, "\x35\x01\x6a\x0c\x40short"))},
		want:    []string{`req dhcp Command="UNKNOWN" ClientID="02:42:c6:12:00:0b"`},
		summary: `[{"type":"UNKNOWN","xid":1,"client_mac":"02:42:c6:12:00:0b"}]`,
	}, {
		name:   "not dhcp",
		chunks: []appsChunk{cli("hello")},
	}})
}

func FuzzDHCP(f *testing.F) {
	appsFuzz(f, DHCP, UDP, []appsChunk{cli(dhcpDiscover)}, []appsChunk{srv(dhcpOffer)}, []appsChunk{cli(dhcpRequest)})
}
