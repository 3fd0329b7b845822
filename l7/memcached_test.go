package l7

import (
	"strings"
	"testing"
)

// Commands modelled on libmemcached 1.1 (memccp, memccat; memcstat
// --binary) (a real exchange is recorded in l7/testdata/captures/memcached*.pcap).
var (
	mcSet       = "set session:42 0 300 11\r\n{\"user\":42}\r\n"
	mcGet       = "get session:42 session:43\r\n"
	mcReply     = "VALUE session:42 0 11\r\n{\"user\":42}\r\nEND\r\n"
	mcBinGet    = "\x80\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00key"
	mcBinStat   = "\x80\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"
	mcBinMiss   = "\x81\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x09\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00Not found"
	mcBinStatOK = "\x81\x10\x00\x03\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00pid42"
)

func TestMemcachedDetect(t *testing.T) {
	tests := []struct {
		dir  Dir
		in   string
		want Match
	}{
		{FromClient, mcSet, Matched},
		{FromClient, mcGet, Matched},
		{FromClient, "stats\r\n", Matched},
		{FromClient, "sta", NeedMore},
		{FromClient, "GET / HTTP/1.1\r\n", NoMatch},
		{FromClient, "get", NeedMore},
		{FromClient, "getx\r\n", NoMatch},
		{FromClient, mcBinGet, Matched},
		{FromClient, mcBinGet[:10], NeedMore},
		{FromClient, "\x80\x99", NoMatch},
		{FromServer, mcBinMiss, Matched},
		{FromServer, mcBinGet, NoMatch},
		{FromServer, mcReply, NoMatch},
	}
	for _, tc := range tests {
		if got := detectMemcached(tc.dir, []byte(tc.in)); got != tc.want {
			t.Errorf("detectMemcached(%v, %q) = %v, want %v", tc.dir, tc.in, got, tc.want)
		}
	}
}

func TestMemcachedParse(t *testing.T) {
	big := strings.Repeat("v", 50000)
	appsRunCases(t, Memcached, TCP, []appsCase{{
		name:    "text",
		chunks:  []appsChunk{cli(mcSet), srv("STORED\r\n"), cli(mcGet), srv(mcReply), cli("set big 0 0 50000\r\n" + big + "\r\ndelete big\r\n")},
		want:    []string{`req memcached Command="SET"`, `req memcached Command="GET"`, `req memcached Command="SET"`, `req memcached Command="DELETE"`},
		summary: `{"protocol":"text","commands":["SET","GET","SET","DELETE"]}`,
	}, {
		name:    "binary",
		chunks:  []appsChunk{cli(mcBinGet), srv(mcBinMiss), cli(mcBinStat), srv(mcBinStatOK)},
		want:    []string{`req memcached Command="GET"`, `resp memcached Status=1`, `req memcached Command="STAT"`, `resp memcached Status=0`},
		summary: `{"protocol":"binary","commands":["GET","STAT"]}`,
	}, {
		name:    "unknown text command",
		chunks:  []appsChunk{cli("get a\r\nfrobnicate\r\n")},
		want:    []string{`req memcached Command="GET"`, `error memcached: unknown command "frobnicate"`},
		summary: `{"protocol":"text","commands":["GET"]}`,
	}, {
		name:    "bad data size",
		chunks:  []appsChunk{cli("set k 0 0 -5\r\n")},
		want:    []string{`req memcached Command="SET"`, `error memcached: bad data size "-5" in "set" command`},
		summary: `{"protocol":"text","commands":["SET"]}`,
	}})
}

func FuzzMemcached(f *testing.F) {
	appsFuzz(f, Memcached, TCP, []appsChunk{cli(mcSet + mcGet), srv("STORED\r\n" + mcReply)},
		[]appsChunk{cli(mcBinGet + mcBinStat), srv(mcBinMiss + mcBinStatOK)})
}
