package l7

import (
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
)

// The packet path does not allocate in steady state: feeding requests of a
// keep-alive connection, DNS datagrams, and whole TLS connections (parsers
// and buffers come from the engine's pools). Summaries are off, as in the
// agent.

// skipUnderRace skips allocation counting under the race detector, whose
// sync.Pool drops pooled values at random.
func skipUnderRace(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race (sync.Pool drops values at random)")
	}
}

func TestAllocsHTTPKeepAlive(t *testing.T) {
	skipUnderRace(t)
	e := NewEngine(Config{})
	var f Flow
	f.Init(e, TCP, 40000, 80, OrientationKnown)
	var sink nopSink
	f.TCP(FromClient, 0, SYN, nil, sink)
	f.TCP(FromServer, 0, SYN|ACK, nil, sink)
	req := []byte("GET /api/v1/users/42?x=1 HTTP/1.1\r\nHost: API.Example:8080\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
	// A request split over two segments, so that the reassembly buffer is
	// used too.
	split := len(req) / 2
	seq := [2]uint32{1, 1}
	allocs := testing.AllocsPerRun(1000, func() {
		f.TCP(FromClient, seq[0], ACK, req[:split], sink)
		f.TCP(FromClient, seq[0]+uint32(split), ACK, req[split:], sink)
		f.TCP(FromServer, seq[1], ACK, resp, sink)
		seq[0] += uint32(len(req))
		seq[1] += uint32(len(resp))
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per request", allocs)
	}
	if f.App() != HTTP || f.Requests() < 1000 {
		t.Errorf("app %v requests %d", f.App(), f.Requests())
	}
}

func TestAllocsDNS(t *testing.T) {
	skipUnderRace(t)
	e := NewEngine(Config{})
	q := []byte(pack(t, dnsQuery(t, 1, "api.example.com.", 1)))
	r := []byte(pack(t, dnsReply(t, dnsQuery(t, 1, "api.example.com.", 1), 0,
		"api.example.com. 60 IN CNAME edge.example.net.", "edge.example.net. 60 IN A 198.18.0.11")))
	var f Flow
	f.Init(e, UDP, 40000, 53, OrientationKnown)
	var sink nopSink
	allocs := testing.AllocsPerRun(1000, func() {
		f.UDP(FromClient, q, sink)
		f.UDP(FromServer, r, sink)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per query and answer", allocs)
	}
	if f.App() != DNS || f.Requests() < 1000 {
		t.Errorf("app %v requests %d", f.App(), f.Requests())
	}
}

func TestAllocsTLSConnection(t *testing.T) {
	skipUnderRace(t)
	e := NewEngine(Config{})
	c13, s13 := tlsTranscript(t, &tls.Config{ServerName: "api.example", NextProtos: []string{"h2"}, InsecureSkipVerify: true},
		&tls.Config{Certificates: []tls.Certificate{testCert()}})
	var f Flow
	var sink nopSink
	// A whole connection per run: Init, handshake, ClientHello,
	// ServerHello, Release.
	allocs := testing.AllocsPerRun(1000, func() {
		f.Init(e, TCP, 40000, 443, OrientationKnown)
		f.TCP(FromClient, 0, SYN, nil, sink)
		f.TCP(FromServer, 0, SYN|ACK, nil, sink)
		f.TCP(FromClient, 1, ACK, c13, sink)
		f.TCP(FromServer, 1, ACK, s13, sink)
		if !f.Done() {
			panic("TLS flow not done after both hellos")
		}
		f.Release()
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per connection", allocs)
	}
}

// allocConnection feeds a whole TCP connection to a Flow of e, the way the
// agent does: Init, handshake, the conversation in segments, Release. It
// panics when the flow does not end up as app with a request reported.
func allocConnection(e *Engine, f *Flow, app App, port uint16, conv [][]byte, dirs []Dir) {
	var sink nopSink
	f.Init(e, TCP, 40000, port, OrientationKnown)
	f.TCP(FromClient, 0, SYN, nil, sink)
	f.TCP(FromServer, 0, SYN|ACK, nil, sink)
	seq := [2]uint32{1, 1}
	for i, data := range conv {
		d := dirs[i]
		f.TCP(d, seq[d], ACK, data, sink)
		seq[d] += uint32(len(data))
	}
	if f.App() != app || f.Requests() == 0 {
		panic(fmt.Sprintf("flow is %v with %d requests, want %v", f.App(), f.Requests(), app))
	}
	f.Release()
}

// TestAllocsAppConnections: whole short connections of the application
// protocols (handshake, a few requests, Release) allocate nothing once the
// engine's pools are warm: parsers are reset and reused.
func TestAllocsAppConnections(t *testing.T) { checkConnectionAllocs(t, allocConversations()) }

// checkConnectionAllocs checks that each conversation, fed as a whole
// connection again and again, allocates nothing.
func checkConnectionAllocs(t *testing.T, convs []allocConversation) {
	skipUnderRace(t)
	for i, c := range convs {
		t.Run(fmt.Sprintf("%v-%d", c.app, i), func(t *testing.T) {
			e := NewEngine(Config{})
			conv := make([][]byte, len(c.conv))
			dirs := make([]Dir, len(c.conv))
			for i, ch := range c.conv {
				conv[i], dirs[i] = []byte(ch.data), ch.dir
			}
			var f Flow
			allocs := testing.AllocsPerRun(200, func() { allocConnection(e, &f, c.app, c.port, conv, dirs) })
			if allocs != 0 {
				t.Errorf("%.1f allocations per connection", allocs)
			}
		})
	}
}

// allocConversation is a short connection of an application protocol.
type allocConversation struct {
	app  App
	port uint16
	conv []appsChunk
}

func allocConversations() []allocConversation {
	return []allocConversation{
		{Redis, 6379, []appsChunk{cli(redisSet), srv(redisReply), cli(redisGet), srv("$5\r\nalice\r\n"), cli("PING\r\n"), srv("+PONG\r\n")}},
		{MySQL, 3306, []appsChunk{srv(mysqlServerHello), cli(mysqlClientHello), srv(mysqlOK), cli(mysqlQuery), srv(mysqlResultSet),
			cli(mysqlInitDB), srv(mysqlErr), cli(mysqlQuery), srv(mysqlResultSet)}},
		{PostgreSQL, 5432, []appsChunk{cli(pgSSLReq), srv("N"), cli(pgStartup), srv(pgAuthOKMsg + pgParams), cli(pgQuery), srv(pgResult),
			cli(pgParse), srv(pgError), cli(pgMsg('X', ""))}},
		{Kafka, 9092, []appsChunk{cli(kafkaAPIVer4), srv(kafkaAck), cli(kafkaMetadataReq(12, 1, "orders", "audit")),
			srv(kafkaMetadataResp(12, 1, kafkaOrders, kafkaAudit)), cli(kafkaProduceReq(13, 2, 300, kafkaOrders, kafkaAudit)),
			srv(kafkaAck), cli(kafkaFetchReq(16, 3, kafkaOrders)), cli(kafkaProduce9)}},
		{MQTT, 1883, []appsChunk{cli(mqttConnect311), srv(mqttConnAck), cli(mqttPublish), cli(mqttSubscribe), srv("\x90\x04\x00\x01\x01\x00"),
			cli(mqttDisconnect)}},
		{Memcached, 11211, []appsChunk{cli(mcSet), srv("STORED\r\n"), cli(mcGet), srv(mcReply)}},
	}
}

// h2Conversations are whole HTTP/2 connections in the agent's segments:
// prior knowledge with keep-alive requests, a gRPC call with its trailers,
// and an h2c upgrade. Each header block is split over two segments so
// that reassembly buffers are used too.
func h2Conversations() []allocConversation {
	split := func(dir Dir, s string) []appsChunk {
		return []appsChunk{{dir: dir, data: s[:len(s)/2]}, {dir: dir, data: s[len(s)/2:]}}
	}
	cl := newH2Writer(true)
	_ = cl.fr.WriteSettings()
	for i := uint32(1); i <= 5; i += 2 {
		cl.headers(i, true, ":method", "GET", ":scheme", "http", ":path", fmt.Sprintf("/v2/items/%d", i),
			":authority", "api.example:8080", "user-agent", "test/1", "x-request-id", fmt.Sprintf("%08x", i*7919))
	}
	sv := newH2Writer(false)
	_ = sv.fr.WriteSettings()
	for i := uint32(1); i <= 5; i += 2 {
		sv.headers(i, false, ":status", "200", "content-type", "application/json")
		_ = sv.fr.WriteData(i, true, []byte(`{"ok":true}`))
	}
	gc := newH2Writer(true)
	_ = gc.fr.WriteSettings()
	gc.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/orders.v1.Orders/Create", ":authority", "orders:50051",
		"content-type", "application/grpc", "te", "trailers", "grpc-timeout", "1S")
	_ = gc.fr.WriteData(1, true, []byte("\x00\x00\x00\x00\x03abc"))
	gs := newH2Writer(false)
	_ = gs.fr.WriteSettings()
	gs.headers(1, false, ":status", "200", "content-type", "application/grpc")
	_ = gs.fr.WriteData(1, false, []byte("\x00\x00\x00\x00\x02ok"))
	gs.headers(1, true, "grpc-status", "0", "grpc-message", "")
	up, switched, client, second := h2cUpgrade()
	return []allocConversation{
		{HTTP2, 8080, append(split(FromClient, cl.String()), split(FromServer, sv.String())...)},
		{GRPC, 50051, append(split(FromClient, gc.String()), split(FromServer, gs.String())...)},
		{HTTP2, 80, []appsChunk{cli(up), srv(switched), cli(client), srv(second)}},
	}
}

// TestAllocsHTTP2Connections: whole HTTP/2, gRPC and h2c connections
// (handshake, preface, SETTINGS, HPACK-coded requests and responses, DATA,
// trailers, Release) allocate nothing once the pools are warm.
func TestAllocsHTTP2Connections(t *testing.T) { checkConnectionAllocs(t, h2Conversations()) }

// TestAllocsBufferGrowth: a request whose header block arrives in pieces
// that make the reassembly buffer grow (MinBuffer to 4 KiB) allocates
// nothing once the size classes are pooled.
func TestAllocsBufferGrowth(t *testing.T) {
	skipUnderRace(t)
	e := NewEngine(Config{})
	var f Flow
	f.Init(e, TCP, 40000, 80, OrientationKnown)
	var sink nopSink
	f.TCP(FromClient, 0, SYN, nil, sink)
	req := []byte("GET /api HTTP/1.1\r\nHost: api.example\r\nCookie: " + strings.Repeat("c", 3000) + "\r\n\r\n")
	seq := uint32(1)
	allocs := testing.AllocsPerRun(500, func() {
		for i := 0; i < len(req); i += 400 {
			p := req[i:min(i+400, len(req))]
			f.TCP(FromClient, seq, ACK, p, sink)
			seq += uint32(len(p))
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per request", allocs)
	}
	if f.Requests() < 500 || e.Buffered() != 0 {
		t.Errorf("requests %d, buffered %d", f.Requests(), e.Buffered())
	}
}
