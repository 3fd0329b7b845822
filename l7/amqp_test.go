package l7

import (
	"encoding/binary"
	"testing"
)

// amqpMethodFrame frames a method frame on channel ch.
func amqpMethodFrame(ch uint16, class, method uint16, args string) string {
	p := string(binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, class), method)) + args
	h := []byte{1}
	h = binary.BigEndian.AppendUint16(h, ch)
	h = binary.BigEndian.AppendUint32(h, uint32(len(p)))
	return string(h) + p + "\xce"
}

func amqpShort(s string) string { return string([]byte{byte(len(s))}) + s }
func amqpLong(s string) string  { return string(binary.BigEndian.AppendUint32(nil, uint32(len(s)))) + s }

// Frames modelled on amqp091-go v1.16 and RabbitMQ 3.10
// (a real exchange is recorded in l7/testdata/captures/amqp.pcap), property tables shortened.
var (
	amqpHeader  = "AMQP\x00\x00\x09\x01"
	amqpStart   = amqpMethodFrame(0, 10, 10, "\x00\x09"+amqpLong(amqpShort("product")+"S"+amqpLong("RabbitMQ")+amqpShort("version")+"S"+amqpLong("3.10.8"))+amqpLong("PLAIN AMQPLAIN")+amqpLong("en_US"))
	amqpStartOK = amqpMethodFrame(0, 10, 11, amqpLong(amqpShort("product")+"S"+amqpLong("AMQP 0.9.1 Client"))+amqpShort("PLAIN")+amqpLong("\x00app\x00secret")+amqpShort("en_US"))
	amqpTune    = amqpMethodFrame(0, 10, 30, "\x07\xff\x00\x02\x00\x00\x00\x3c")
	amqpTuneOK  = amqpMethodFrame(0, 10, 31, "\x07\xff\x00\x02\x00\x00\x00\x0a")
	amqpOpen    = amqpMethodFrame(0, 10, 40, amqpShort("/prod")+"\x00\x00")
	amqpChOpen  = amqpMethodFrame(1, 20, 10, "\x00")
	amqpDeclare = amqpMethodFrame(1, 50, 10, "\x00\x00"+amqpShort("jobs")+"\x02\x00\x00\x00\x00")
	amqpPublish = amqpMethodFrame(1, 60, 40, "\x00\x00"+amqpShort("events")+amqpShort("order.created")+"\x00") +
		"\x02\x00\x01\x00\x00\x00\x0e\x00\x3c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\xce" +
		"\x03\x00\x01\x00\x00\x00\x05hello\xce"
	amqpConsume = amqpMethodFrame(1, 60, 20, "\x00\x00"+amqpShort("jobs")+amqpShort("ctag")+"\x00"+"\x00\x00\x00\x00")
	amqpChClose = amqpMethodFrame(1, 20, 40, "\x01\x94"+amqpShort("NOT_FOUND - no exchange")+"\x00\x3c\x00\x28")
)

func TestAMQPDetect(t *testing.T) {
	tests := []struct {
		dir  Dir
		in   string
		want Match
	}{
		{FromClient, amqpHeader, Matched},
		{FromClient, "AMQP\x00\x01\x00\x00", Matched},
		{FromClient, "AMQ", NeedMore},
		{FromClient, "AMQP\x00\x00", NeedMore},
		{FromClient, "AMQP\x07\x07\x07\x07", NoMatch},
		{FromServer, amqpStart, Matched},
		{FromServer, amqpStart[:9], NeedMore},
		{FromServer, amqpTune, NoMatch},
		{FromClient, "GET / HTTP/1.1\r\n", NoMatch},
	}
	for _, tc := range tests {
		if got := detectAMQP(tc.dir, []byte(tc.in)); got != tc.want {
			t.Errorf("detectAMQP(%v, %q) = %v, want %v", tc.dir, tc.in, got, tc.want)
		}
	}
}

func TestAMQPParse(t *testing.T) {
	appsRunCases(t, AMQP, TCP, []appsCase{{
		name: "publish and consume",
		chunks: []appsChunk{cli(amqpHeader), srv(amqpStart), cli(amqpStartOK), srv(amqpTune), cli(amqpTuneOK + amqpOpen),
			cli(amqpChOpen + amqpDeclare + amqpPublish + amqpConsume), srv(amqpChClose)},
		want: []string{
			`resp amqp Status=-1 Version="3.10.8"`,
			`req amqp Command="CONNECTION.START-OK" User="app"`,
			`req amqp Command="CONNECTION.TUNE-OK"`,
			`req amqp Command="CONNECTION.OPEN" Database="/prod"`,
			`req amqp Command="CHANNEL.OPEN"`,
			`req amqp Command="QUEUE.DECLARE" Topic="jobs"`,
			`req amqp Command="BASIC.PUBLISH" Topic="order.created"`,
			`req amqp Command="BASIC.CONSUME" Topic="jobs"`,
			`resp amqp Status=404`,
		},
		summary: `{"version":"0-9-1","server_product":"RabbitMQ","server_version":"3.10.8","user":"app","vhost":"/prod","methods":[
			{"method":"connection.start-ok"},{"method":"connection.tune-ok"},{"method":"connection.open"},{"method":"channel.open"},
			{"method":"queue.declare","queue":"jobs"},{"method":"basic.publish","exchange":"events","routing_key":"order.created"},
			{"method":"basic.consume","queue":"jobs"}]}`,
	}, {
		name:    "amqp 1.0",
		chunks:  []appsChunk{cli("AMQP\x03\x01\x00\x00\x00\x00\x00\x15\x02\x01\x00\x00")},
		want:    []string{`note AMQP 1.0`},
		summary: `{"version":"1.0"}`,
	}, {
		name:    "bad frame end",
		chunks:  []appsChunk{cli(amqpHeader + "\x01\x00\x00\x00\x00\x00\x04\x00\x14\x00\x0a\x00")},
		want:    []string{`error amqp: client frame end octet 0x0, want 0xce`},
		summary: `{"version":"0-9-1"}`,
	}})
}

func FuzzAMQP(f *testing.F) {
	appsFuzz(f, AMQP, TCP, []appsChunk{cli(amqpHeader + amqpStartOK + amqpTuneOK + amqpOpen + amqpChOpen + amqpDeclare + amqpPublish + amqpConsume),
		srv(amqpStart + amqpTune + amqpChClose)})
}
