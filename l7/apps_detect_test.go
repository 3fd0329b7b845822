package l7

import (
	"fmt"
	"testing"
)

// appsSample is the first bytes one side of a protocol sends.
type appsSample struct {
	app  App
	tr   Transport
	dir  Dir
	name string
	data string
}

// appsSamples returns the opening bytes of every application protocol of
// this package's parsers (from the table tests, themselves from captures),
// plus openings of the engine's own protocols, for the cross-detection
// test.
func appsSamples() []appsSample {
	return []appsSample{
		{SSH, TCP, FromClient, "banner", sshClientBanner},
		{SSH, TCP, FromServer, "banner", sshServerBanner},
		{Redis, TCP, FromClient, "resp", redisSet},
		{Redis, TCP, FromClient, "inline", "PING\r\n"},
		{MySQL, TCP, FromServer, "handshake", mysqlServerHello},
		{MySQL, TCP, FromClient, "handshake response", mysqlClientHello},
		{MySQL, TCP, FromClient, "ssl request", mysqlSSLReq},
		{PostgreSQL, TCP, FromClient, "ssl request", pgSSLReq},
		{PostgreSQL, TCP, FromClient, "startup", pgStartup},
		{PostgreSQL, TCP, FromServer, "auth", pgAuthOKMsg},
		{MongoDB, TCP, FromClient, "op_query", mongoHelloQuery},
		{MongoDB, TCP, FromClient, "op_msg", mongoFind},
		{MongoDB, TCP, FromServer, "op_reply", mongoHelloReply},
		{Kafka, TCP, FromClient, "api versions", kafkaAPIVersions},
		{Kafka, TCP, FromClient, "metadata", kafkaReq(3, 12, 1, "sarama", "")},
		{MQTT, TCP, FromClient, "connect 3.1.1", mqttConnect311},
		{MQTT, TCP, FromClient, "connect 5", mqttConnect5},
		{MQTT, TCP, FromServer, "connack", mqttConnAck},
		{AMQP, TCP, FromClient, "header", amqpHeader},
		{AMQP, TCP, FromServer, "connection.start", amqpStart},
		{Memcached, TCP, FromClient, "text", mcSet},
		{Memcached, TCP, FromClient, "binary", mcBinGet},
		{Memcached, TCP, FromServer, "binary", mcBinMiss},
		{NATS, TCP, FromServer, "info", natsInfo},
		{NATS, TCP, FromClient, "connect", natsConnect},
		{Cassandra, TCP, FromClient, "options", cqlOptions},
		{Cassandra, TCP, FromClient, "startup", cqlStartup},
		{Cassandra, TCP, FromServer, "supported", cqlSupported},
		{ZooKeeper, TCP, FromClient, "connect", zkConnect},
		{ZooKeeper, TCP, FromClient, "ruok", "ruok"},
		{ZooKeeper, TCP, FromServer, "connect response", zkConnResp},
		{MSSQL, TCP, FromClient, "prelogin", tdsClientPrelogin},
		{MSSQL, TCP, FromServer, "prelogin", tdsServerPrelogin},
		{SMTP, TCP, FromServer, "greeting", smtpGreeting},
		{SMTP, TCP, FromClient, "ehlo", smtpEhlo},
		{IMAP, TCP, FromServer, "greeting", imapGreeting},
		{IMAP, TCP, FromClient, "capability", "A001 CAPABILITY\r\n"},
		{POP3, TCP, FromServer, "greeting", pop3Greeting},
		{POP3, TCP, FromClient, "capa", "CAPA\r\n"},
		{POP3, TCP, FromClient, "user", "USER alice\r\n"},
		{FTP, TCP, FromServer, "greeting", ftpGreeting},
		{FTP, TCP, FromClient, "user", ftpUser},
		{FTP, TCP, FromClient, "auth tls", "AUTH TLS\r\n"},
		{DHCP, UDP, FromClient, "discover", dhcpDiscover},
		{DHCP, UDP, FromServer, "offer", dhcpOffer},
		{NTP, UDP, FromClient, "client", ntpClient4},
		{NTP, UDP, FromServer, "server", ntpServer4},
		{NTP, UDP, FromServer, "monlist", ntpMonlist},
		// The engine's protocols.
		{HTTP, TCP, FromClient, "request", "GET /api/orders HTTP/1.1\r\nHost: api:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n"},
		{HTTP, TCP, FromClient, "post", "POST /v1/items HTTP/1.1\r\nHost: api\r\nContent-Length: 2\r\n\r\n{}"},
		{HTTP, TCP, FromServer, "response", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{HTTP2, TCP, FromClient, "preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00"},
		{TLS, TCP, FromClient, "client hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + string(make([]byte, 32)) + "\x20"},
		{TLS, TCP, FromServer, "server hello", "\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03" + string(make([]byte, 32))},
		{DNS, UDP, FromClient, "query", "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x08payments\x07example\x03com\x00\x00\x01\x00\x01"},
		{DNS, TCP, FromClient, "query", "\x00\x1d\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03api\x07example\x03com\x00\x00\x01\x00\x01"},
		{QUIC, UDP, FromClient, "initial", "\xc3\x00\x00\x00\x01\x08\x83\x94\xc8\xf0\x3e\x51\x57\x08\x00\x00\x44\x9e" + string(make([]byte, 1180))},
	}
}

// appsAmbiguous lists the (detector, sample) pairs that are expected to
// match both: the bytes are the same in both protocols and the port breaks
// the tie.
var appsAmbiguous = map[[2]App]bool{
	{POP3, FTP}: true, // "USER name"
	{FTP, POP3}: true,
}

// TestAppsCrossDetection runs every registered detector over every sample
// of the other protocols, in the sample's direction and for every prefix
// length:
// none may say Matched except the documented ambiguities, and each
// protocol's own detector must match its samples.
func TestAppsCrossDetection(t *testing.T) {
	samples := appsSamples()
	own := map[App]bool{}
	for _, s := range samples {
		own[s.app] = true
	}
	for _, p := range Protocols() {
		for _, s := range samples {
			if p.Transport != s.tr {
				continue
			}
			if p.App == s.app {
				if !appsOwned(s.app) {
					continue // the engine's tests check its own detectors
				}
				if got := p.Detect(s.dir, []byte(s.data)); got != Matched {
					t.Errorf("%v detector on its own %v sample %q (%v): %v, want Matched", p.App, s.app, s.name, s.dir, got)
				}
				continue
			}
			if appsAmbiguous[[2]App{p.App, s.app}] {
				continue
			}
			for n := 0; n <= len(s.data); n++ {
				if got := p.Detect(s.dir, []byte(s.data[:n])); got == Matched {
					t.Errorf("%v detector (%v) claims %v sample %q prefix of %d bytes: %q", p.App, s.dir, s.app, s.name, n, s.data[:n])
					break
				}
			}
		}
	}
	// Every protocol of this file's list is registered.
	for app := range own {
		found := false
		for _, p := range Protocols() {
			found = found || p.App == app
		}
		if !found && appsOwned(app) {
			t.Errorf("%v has samples but is not registered", app)
		}
	}
}

// appsOwned reports whether app is parsed by this package's application
// parsers (ssh.go … ntp.go) rather than by the engine's own files.
func appsOwned(app App) bool { return app >= SSH && app != QUIC }

// TestAppsDetectAllocs: Detect never allocates.
func TestAppsDetectAllocs(t *testing.T) {
	for _, s := range appsSamples() {
		if !appsOwned(s.app) {
			continue
		}
		p := appsProtocol(t, s.app, s.tr)
		data := []byte(s.data)
		if n := testing.AllocsPerRun(100, func() { p.Detect(s.dir, data) }); n != 0 {
			t.Errorf("%v Detect(%s) allocates %.1f times", s.app, s.name, n)
		}
	}
}

// appsSteady are the steady states of the allocation tests and benchmarks:
// after setup, each message of repeat is parsed again and again.
func appsSteady() []appsAllocCase {
	return []appsAllocCase{
		{app: Redis, tr: TCP, repeat: []appsChunk{cli(redisSet), cli(redisGet)}},
		{app: MySQL, tr: TCP, setup: []appsChunk{srv(mysqlServerHello), cli(mysqlClientHello), srv(mysqlOK)},
			repeat: []appsChunk{cli(mysqlQuery), srv(mysqlResultSet)}},
		{app: PostgreSQL, tr: TCP, setup: []appsChunk{cli(pgStartup), srv(pgAuthOKMsg + pgParams)},
			repeat: []appsChunk{cli(pgQuery), srv(pgResult)}},
		{app: MongoDB, tr: TCP, repeat: []appsChunk{cli(mongoFind), srv(mongoMsgReply)}},
		{app: Kafka, tr: TCP, repeat: []appsChunk{cli(kafkaProduce9), srv(kafkaResponse), cli(kafkaFetch16), srv(kafkaResponse),
			cli(kafkaMetadataReq(12, 1, "orders")), srv(kafkaMetadataResp(12, 1, kafkaOrders)), cli(kafkaProduceReq(13, 2, 100, kafkaOrders))}},
		{app: MQTT, tr: TCP, setup: []appsChunk{cli(mqttConnect311), srv(mqttConnAck)}, repeat: []appsChunk{cli(mqttPublish)}},
		{app: AMQP, tr: TCP, setup: []appsChunk{cli(amqpHeader), srv(amqpStart)}, repeat: []appsChunk{cli(amqpPublish)}},
		{app: Memcached, tr: TCP, repeat: []appsChunk{cli(mcGet), srv(mcReply)}},
		{app: NATS, tr: TCP, setup: []appsChunk{srv(natsInfo), cli(natsConnect)}, repeat: []appsChunk{cli(natsPub), srv(natsMsg)}},
		{app: Cassandra, tr: TCP, setup: []appsChunk{cli(cqlStartup), srv(cqlReady)}, repeat: []appsChunk{cli(cqlQuery), srv(cqlError)}},
		{app: ZooKeeper, tr: TCP, setup: []appsChunk{cli(zkConnect), srv(zkConnResp)}, repeat: []appsChunk{cli(zkGetData), srv(zkReplyErr)}},
		{app: MSSQL, tr: TCP, setup: []appsChunk{cli(tdsClientPrelogin), srv(tdsServerPrelogin), cli(tdsLogin7Msg)}, repeat: []appsChunk{cli(tdsBatch)}},
		{app: SMTP, tr: TCP, setup: []appsChunk{srv(smtpGreeting)}, repeat: []appsChunk{cli(smtpMail), srv("250 2.0.0 Ok\r\n")}},
		{app: IMAP, tr: TCP, setup: []appsChunk{srv(imapGreeting)}, repeat: []appsChunk{cli("A003 SELECT INBOX\r\n"), srv("* 1 EXISTS\r\nA003 OK selected\r\n")}},
		{app: POP3, tr: TCP, setup: []appsChunk{srv(pop3Greeting)}, repeat: []appsChunk{cli("RETR 1\r\n"), srv("+OK 5 octets\r\nhello\r\n.\r\n")}},
		{app: FTP, tr: TCP, setup: []appsChunk{srv(ftpGreeting)}, repeat: []appsChunk{cli(ftpRetr), srv("226 Transfer complete.\r\n")}},
		{app: DHCP, tr: UDP, repeat: []appsChunk{cli(dhcpDiscover), srv(dhcpOffer)}},
		{app: NTP, tr: UDP, repeat: []appsChunk{cli(ntpClient4), srv(ntpServer4)}},
	}
}

// TestAppsParseAllocs: with Summaries off, parsing a steady stream of
// requests and responses does not allocate. (SSH stops after its banners.)
func TestAppsParseAllocs(t *testing.T) {
	for _, c := range appsSteady() {
		t.Run(c.app.String(), func(t *testing.T) {
			if n := appsAllocs(t, c); n != 0 {
				t.Errorf("%v: %.1f allocations per round of %d messages", c.app, n, len(c.repeat))
			}
		})
	}
}

// BenchmarkAppsParse reports ns and allocations per message (one TCP
// segment or datagram) for each application parser in steady state.
func BenchmarkAppsParse(b *testing.B) {
	for _, c := range appsSteady() {
		b.Run(fmt.Sprintf("%v", c.app), func(b *testing.B) { appsBench(b, c) })
	}
}

// BenchmarkAppsDetect reports the cost of each detector on its own opening.
func BenchmarkAppsDetect(b *testing.B) {
	for _, s := range appsSamples() {
		if !appsOwned(s.app) {
			continue
		}
		p := appsProtocol(b, s.app, s.tr)
		data := []byte(s.data)
		b.Run(s.app.String()+"/"+s.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				p.Detect(s.dir, data)
			}
		})
	}
}
