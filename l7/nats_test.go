package l7

import "testing"

// Lines modelled on nats.go v1.55 and nats-server 2.9
// (a real exchange is recorded in l7/testdata/captures/nats.pcap), INFO shortened.
const (
	natsInfo    = `INFO {"server_id":"NBX","server_name":"nats-1","version":"2.9.10","proto":1,"go":"go1.19.8","host":"0.0.0.0","port":4222,"headers":true,"max_payload":1048576}` + "\r\n"
	natsConnect = `CONNECT {"verbose":false,"pedantic":false,"user":"svc","pass":"x","tls_required":false,"name":"billing","lang":"go","version":"1.47.0","protocol":1,"echo":true,"headers":true,"no_responders":true}` + "\r\n"
	natsPub     = "PUB orders.created _INBOX.abc 5\r\nhello\r\n"
	natsSub     = "SUB orders.* workers 1\r\n"
	natsMsg     = "MSG orders.created 1 5\r\nhello\r\n"
)

func TestNATSDetect(t *testing.T) {
	tests := []struct {
		dir  Dir
		in   string
		want Match
	}{
		{FromServer, natsInfo, Matched},
		{FromServer, "INFO", NeedMore},
		{FromServer, "INFORMATION", NoMatch},
		{FromClient, natsConnect, Matched},
		{FromClient, "CONN", NeedMore},
		{FromClient, "PING\r\n", NoMatch},
		{FromClient, "CONNECT example.com:443 HTTP/1.1\r\n", NoMatch},
	}
	for _, tc := range tests {
		if got := detectNATS(tc.dir, []byte(tc.in)); got != tc.want {
			t.Errorf("detectNATS(%v, %q) = %v, want %v", tc.dir, tc.in, got, tc.want)
		}
	}
}

func TestNATSParse(t *testing.T) {
	appsRunCases(t, NATS, TCP, []appsCase{{
		name:   "session",
		chunks: []appsChunk{srv(natsInfo), cli(natsConnect + "PING\r\n"), srv("PONG\r\n"), cli(natsSub + natsPub), srv(natsMsg), cli("UNSUB 1\r\n"), srv("-ERR 'Permissions Violation'\r\n")},
		want: []string{
			`resp nats Status=-1 Version="2.9.10"`,
			`req nats Command="CONNECT" Version="1.47.0" User="svc" ClientID="billing"`,
			`req nats Command="PING"`,
			`req nats Command="SUB" Topic="orders.*"`,
			`req nats Command="PUB" Topic="orders.created"`,
			`req nats Command="UNSUB"`,
			`resp nats Status=1`,
		},
		summary: `{"server_name":"nats-1","server_version":"2.9.10","client_name":"billing","client_lang":"go","client_version":"1.47.0","user":"svc",
			"commands":[{"command":"CONNECT"},{"command":"PING"},{"command":"SUB","subject":"orders.*"},{"command":"PUB","subject":"orders.created"},{"command":"UNSUB"}],
			"errors":["'Permissions Violation'"]}`,
	}, {
		name:   "bad payload size",
		chunks: []appsChunk{cli("PUB a b\r\n")},
		want:   []string{`error nats: bad payload size "b"`},
	}, {
		name:   "unknown verb",
		chunks: []appsChunk{cli("HELLO\r\n")},
		want:   []string{`error nats: unknown client verb "HELLO"`},
	}})
}

func FuzzNATS(f *testing.F) {
	appsFuzz(f, NATS, TCP, []appsChunk{srv(natsInfo + natsMsg), cli(natsConnect + natsSub + natsPub)})
}
