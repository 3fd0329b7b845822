package l7

import "testing"

// mqttPkt frames an MQTT control packet (remaining length < 16384).
func mqttPkt(first byte, body string) string {
	n := len(body)
	if n < 128 {
		return string([]byte{first, byte(n)}) + body
	}
	return string([]byte{first, byte(n&0x7f | 0x80), byte(n >> 7)}) + body
}

func mqttStr(s string) string { return string([]byte{byte(len(s) >> 8), byte(len(s))}) + s }

// Packets as mosquitto_pub/mosquitto_sub 2.0 send them to mosquitto
// (a real exchange is recorded in l7/testdata/captures/mqtt.pcap).
var (
	mqttConnect311 = mqttPkt(0x10, mqttStr("MQTT")+"\x04"+"\xc2"+"\x00\x3c"+mqttStr("sensor-7")+mqttStr("iot")+mqttStr("secret"))
	mqttConnAck    = "\x20\x02\x00\x00"
	mqttPublish    = mqttPkt(0x30, mqttStr("plant/line1/temp")+"21.5")
	mqttSubscribe  = mqttPkt(0x82, "\x00\x01"+mqttStr("plant/+/temp")+"\x01"+mqttStr("alerts/#")+"\x00")
	mqttDisconnect = "\xe0\x00"
	// MQTT 5: CONNECT with properties (session expiry), PUBLISH QoS 1 with
	// properties, SUBSCRIBE with properties.
	mqttConnect5   = mqttPkt(0x10, mqttStr("MQTT")+"\x05"+"\x02"+"\x00\x3c"+"\x05\x11\x00\x00\x00\x3c"+mqttStr("dev-5"))
	mqttConnAck5   = "\x20\x03\x00\x00\x00"
	mqttPublish5   = mqttPkt(0x32, mqttStr("cmd/reboot")+"\x00\x07"+"\x02\x01\x01"+"now")
	mqttSubscribe5 = mqttPkt(0x82, "\x00\x02"+"\x02\x0b\x01"+mqttStr("cmd/#")+"\x01")
)

func TestMQTTDetect(t *testing.T) {
	tests := []struct {
		dir  Dir
		in   string
		want Match
	}{
		{FromClient, mqttConnect311, Matched},
		{FromClient, mqttConnect5, Matched},
		{FromClient, mqttConnect311[:5], NeedMore},
		{FromClient, mqttPkt(0x10, mqttStr("MQIsdp")+"\x03\x02\x00\x3c"+mqttStr("old")), Matched},
		{FromClient, mqttPkt(0x10, mqttStr("HTTP")), NoMatch},
		{FromClient, mqttPublish, NoMatch},
		{FromServer, mqttConnAck, Matched},
		{FromServer, mqttConnAck5, Matched},
		{FromServer, "\x20\x02\x00\x09", NoMatch},
		{FromClient, "GET / HTTP/1.1\r\n", NoMatch},
	}
	for _, tc := range tests {
		if got := detectMQTT(tc.dir, []byte(tc.in)); got != tc.want {
			t.Errorf("detectMQTT(%v, %q) = %v, want %v", tc.dir, tc.in, got, tc.want)
		}
	}
}

func TestMQTTParse(t *testing.T) {
	appsRunCases(t, MQTT, TCP, []appsCase{{
		name:   "3.1.1",
		chunks: []appsChunk{cli(mqttConnect311), srv(mqttConnAck), cli(mqttPublish + mqttSubscribe), srv(mqttPkt(0x90, "\x00\x01\x01\x00")), cli(mqttDisconnect)},
		want: []string{
			`req mqtt Command="CONNECT" Version="3.1.1" User="iot" ClientID="sensor-7"`,
			`resp mqtt Status=0`,
			`req mqtt Command="PUBLISH" Topic="plant/line1/temp"`,
			`req mqtt Command="SUBSCRIBE" Topic="plant/+/temp"`,
			`req mqtt Command="SUBSCRIBE" Topic="alerts/#"`,
			`req mqtt Command="DISCONNECT"`,
		},
		summary: `{"version":"3.1.1","client_id":"sensor-7","user":"iot","packets":[{"command":"CONNECT"},
			{"command":"PUBLISH","topic":"plant/line1/temp"},{"command":"SUBSCRIBE","topic":"plant/+/temp"},
			{"command":"SUBSCRIBE","topic":"alerts/#"},{"command":"DISCONNECT"}]}`,
	}, {
		name:   "5.0",
		chunks: []appsChunk{cli(mqttConnect5), srv(mqttConnAck5), cli(mqttPublish5 + mqttSubscribe5)},
		want: []string{
			`req mqtt Command="CONNECT" Version="5.0" ClientID="dev-5"`,
			`resp mqtt Status=0`,
			`req mqtt Command="PUBLISH" Topic="cmd/reboot"`,
			`req mqtt Command="SUBSCRIBE" Topic="cmd/#"`,
		},
		summary: `{"version":"5.0","client_id":"dev-5","packets":[{"command":"CONNECT"},{"command":"PUBLISH","topic":"cmd/reboot"},{"command":"SUBSCRIBE","topic":"cmd/#"}]}`,
	}, {
		name:   "bad remaining length",
		chunks: []appsChunk{cli("\x30\xff\xff\xff\xff\x01")},
		want:   []string{`error mqtt: client remaining length longer than 4 bytes`},
	}})
}

func FuzzMQTT(f *testing.F) {
	appsFuzz(f, MQTT, TCP, []appsChunk{cli(mqttConnect311 + mqttPublish + mqttSubscribe + mqttDisconnect), srv(mqttConnAck)},
		[]appsChunk{cli(mqttConnect5 + mqttPublish5 + mqttSubscribe5), srv(mqttConnAck5)})
}
