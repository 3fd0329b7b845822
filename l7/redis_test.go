package l7

import (
	"strings"
	"testing"
)

// Commands as redis-cli 7.0 sends them (a real exchange is recorded in l7/testdata/captures/redis.pcap).
const (
	redisSet   = "*3\r\n$3\r\nSET\r\n$8\r\nuser:100\r\n$5\r\nalice\r\n"
	redisGet   = "*2\r\n$3\r\nget\r\n$8\r\nuser:100\r\n"
	redisReply = "+OK\r\n"
)

func TestRedisDetect(t *testing.T) {
	tests := []struct {
		dir  Dir
		in   string
		want Match
	}{
		{FromClient, "*", NeedMore},
		{FromClient, "*3\r", NeedMore},
		{FromClient, "*3\r\n$", NeedMore},
		{FromClient, "*3\r\n$3", NeedMore},
		{FromClient, redisSet, Matched},
		{FromClient, "PING\r\n", Matched},
		{FromClient, "ping", NoMatch},
		{FromClient, "set k 0 0 1\r\n", NoMatch},
		{FromClient, "PIN", NeedMore},
		{FromClient, "FLUSHALL\r\n", Matched},
		{FromClient, "*x", NoMatch},
		{FromClient, "*3\r\n+", NoMatch},
		{FromClient, "*\r\n", NoMatch},
		{FromClient, "GET / HTTP/1.1\r\n", NoMatch},
		{FromClient, "QUIT\r\n", NoMatch},
		{FromServer, redisReply, NoMatch},
	}
	for _, tc := range tests {
		if got := detectRedis(tc.dir, []byte(tc.in)); got != tc.want {
			t.Errorf("detectRedis(%v, %q) = %v, want %v", tc.dir, tc.in, got, tc.want)
		}
	}
}

func TestRedisParse(t *testing.T) {
	big := strings.Repeat("x", 100000)
	appsRunCases(t, Redis, TCP, []appsCase{{
		name:    "set get",
		chunks:  []appsChunk{cli(redisSet), srv(redisReply), cli(redisGet), srv("$5\r\nalice\r\n")},
		want:    []string{`req redis Command="SET"`, `req redis Command="GET"`},
		summary: `[{"command":"SET"},{"command":"GET"}]`,
	}, {
		name:    "pipelined with a large value",
		chunks:  []appsChunk{cli("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n" + big + "\r\n*1\r\n$4\r\nPING\r\n")},
		want:    []string{`req redis Command="SET"`, `req redis Command="PING"`},
		summary: `[{"command":"SET"},{"command":"PING"}]`,
	}, {
		name:    "inline",
		chunks:  []appsChunk{cli("ping\r\nconfig get maxmemory\r\n\r\n")},
		want:    []string{`req redis Command="PING"`, `req redis Command="CONFIG"`},
		summary: `[{"command":"PING"},{"command":"CONFIG"}]`,
	}, {
		name:    "long command name",
		chunks:  []appsChunk{cli("*1\r\n$70\r\n" + strings.Repeat("A", 70) + "\r\n")},
		want:    []string{`req redis Command="UNKNOWN"`},
		summary: `[{"command":"UNKNOWN"}]`,
	}, {
		name:    "records capped",
		max:     1,
		chunks:  []appsChunk{cli(redisSet + redisGet)},
		want:    []string{`req redis Command="SET"`, `req redis Command="GET"`, `note records truncated`},
		summary: `[{"command":"SET"}]`,
	}, {
		name:   "bad bulk header",
		chunks: []appsChunk{cli("*2\r\n$x\r\n")},
		want:   []string{`error redis: bad length in header "$x"`},
	}, {
		name:   "huge bulk",
		chunks: []appsChunk{cli("*2\r\n$99999999999\r\n")},
		want:   []string{`error redis: length in header "$99999999999" exceeds 536870912`},
	}, {
		name:   "truncated",
		chunks: []appsChunk{cli("*3\r\n$3\r\nSE")},
	}})
}

func FuzzRedis(f *testing.F) {
	appsFuzz(f, Redis, TCP, []appsChunk{cli(redisSet + redisGet), srv(redisReply)}, []appsChunk{cli("PING\r\n")})
}
