package l7

import (
	"strings"
	"testing"
)

// Packets as ntpdate (ntpsec 1.2) and chrony 4.3 exchange them
// (a real exchange is recorded in l7/testdata/captures/ntp.pcap), and the three of nDPI's NTP captures.
var (
	ntpClient4 = "\x23\x02\x07\xeb\x00\x00\x04\x50\x00\x00\x03\xab\x83\xbc\x03\xdf" + strings.Repeat("\xd9\x4f\x51\xc3\x31\x65\xb8\x60", 4)
	ntpServer4 = "\x24\x03\x07\xe9\x00\x00\x00\x10\x00\x00\x00\x20\xc6\x12\x00\x01" + strings.Repeat("\xd9\x4f\x51\xc4\x00\x00\x00\x00", 4)
	ntpServer3 = "\x1c\x00\x04\xfa" + strings.Repeat("\x00", 44)
	// Mode 7 MON_GETLIST_1 response (ntpdc monlist), header then items.
	ntpMonlist = "\x97\x0e\x03\x2a\x00\x05\x00\x48" + strings.Repeat("\x00", 40)
	ntpControl = "\x16\x02\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00"
)

func TestNTPDetect(t *testing.T) {
	tests := []struct {
		in   string
		want Match
	}{
		{ntpClient4, Matched},
		{ntpServer3, Matched},
		{ntpMonlist, Matched},
		{ntpControl, Matched},
		{ntpClient4[:40], NoMatch},
		{"\x23\x20" + ntpClient4[2:], NoMatch}, // stratum 32
		{"\x03" + ntpClient4[1:], NoMatch},     // version 0
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat("x", 30), NoMatch},
	}
	for _, tc := range tests {
		if got := detectNTP(FromClient, []byte(tc.in)); got != tc.want {
			t.Errorf("detectNTP(%q…) = %v, want %v", tc.in[:4], got, tc.want)
		}
	}
}

func TestNTPParse(t *testing.T) {
	appsRunCases(t, NTP, UDP, []appsCase{{
		name:    "client server",
		chunks:  []appsChunk{cli(ntpClient4), srv(ntpServer4)},
		want:    []string{`req ntp Command="CLIENT" Version="4"`, `resp ntp Status=3 Version="4"`},
		summary: `[{"version":4,"mode":"client","stratum":2},{"version":4,"mode":"server","stratum":3}]`,
	}, {
		name:    "monlist and control",
		chunks:  []appsChunk{srv(ntpMonlist), cli(ntpControl)},
		want:    []string{`resp ntp Status=-1 Version="2"`, `req ntp Command="CONTROL" Version="2"`},
		summary: `[{"version":2,"mode":"private"},{"version":2,"mode":"control"}]`,
	}})
}

func FuzzNTP(f *testing.F) {
	appsFuzz(f, NTP, UDP, []appsChunk{cli(ntpClient4)}, []appsChunk{srv(ntpServer4)}, []appsChunk{srv(ntpMonlist)}, []appsChunk{cli(ntpControl)})
}
