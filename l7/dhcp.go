package l7

import (
	"encoding/binary"
	"net/netip"
	"strings"
)

// DHCP (RFC 2131, 2132) over UDP 67/68: a BOOTP message (op 1 request,
// 2 reply; hardware type and length; transaction id; client, your, server
// and relay addresses; client hardware address) followed by the magic
// cookie 99.130.83.99 at offset 236 and options: 53 message type, 12 host
// name, 50 requested address, 61 client identifier, 60 vendor class.
//
// Request: BOOTREQUESTs, Command the message type ("DISCOVER", "REQUEST",
// "INFORM", "RELEASE", "DECLINE"), ClientID the client hardware address
// ("aa:bb:cc:dd:ee:ff"), Host the requested host name (option 12, lower
// case as sent).
// Response: BOOTREPLYs, Status the message type number (2 OFFER, 5 ACK,
// 6 NAK).

func init() {
	register(&Protocol{
		App:       DHCP,
		Transport: UDP,
		Ports:     []uint16{67, 68},
		Detect:    detectDHCP,
		New:       appNew[dhcpParser],
	})
}

const dhcpCookie = 0x63825363

var dhcpTypes = [...]string{
	1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK",
	7: "RELEASE", 8: "INFORM", 9: "FORCERENEW", 10: "LEASEQUERY",
	11: "LEASEUNASSIGNED", 12: "LEASEUNKNOWN", 13: "LEASEACTIVE",
	14: "BULKLEASEQUERY", 15: "LEASEQUERYDONE", 16: "ACTIVELEASEQUERY",
	17: "LEASEQUERYSTATUS", 18: "TLS",
}

func detectDHCP(dir Dir, data []byte) Match {
	if len(data) < 240 {
		return NoMatch
	}
	if data[0] != 1 && data[0] != 2 || data[2] > 16 || binary.BigEndian.Uint32(data[236:]) != dhcpCookie {
		return NoMatch
	}
	return Matched
}

// dhcpSummary is one entry of the "dhcp" list of analyze's flow JSON.
type dhcpSummary struct {
	Type        string `json:"type"`
	XID         uint32 `json:"xid"`
	ClientMAC   string `json:"client_mac,omitempty"`
	Hostname    string `json:"hostname,omitempty"`
	RequestedIP string `json:"requested_ip,omitempty"`
	YourIP      string `json:"your_ip,omitempty"`
	ServerID    string `json:"server_id,omitempty"`
	VendorClass string `json:"vendor_class,omitempty"`
}

type dhcpParser struct {
	req  Request
	resp Response
	buf  appBuf
	recs appRecords[dhcpSummary]
}

// Reset implements Resetter: p becomes what New(cfg) returns, and what
// Summary returned before is left alone.
func (p *dhcpParser) Reset(cfg *ParserConfig) {
	*p = dhcpParser{recs: newAppRecords[dhcpSummary](appCfg(cfg))}
}

func (p *dhcpParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	if detectDHCP(dir, data) != Matched {
		return len(data), nil // not a DHCP message: nothing to report
	}
	var msgType byte
	var host, reqIP, server, vendor []byte
	opts := data[240:]
	for i := 0; i < len(opts) && i < 1500; {
		code := opts[i]
		if code == 0 { // pad
			i++
			continue
		}
		if code == 255 || i+1 >= len(opts) {
			break
		}
		n := int(opts[i+1])
		if i+2+n > len(opts) {
			break
		}
		v := opts[i+2 : i+2+n]
		switch code {
		case 53:
			if n == 1 {
				msgType = v[0]
			}
		case 12:
			host = v
		case 50:
			reqIP = v
		case 54:
			server = v
		case 60:
			vendor = v
		}
		i += 2 + n
	}
	name := "BOOTP"
	if int(msgType) < len(dhcpTypes) && dhcpTypes[msgType] != "" {
		name = dhcpTypes[msgType]
	} else if msgType != 0 {
		name = "UNKNOWN"
	}
	hlen := min(int(data[2]), 16)
	p.buf.reset()
	mac := p.buf.mac(data[28 : 28+hlen])
	if !appIsPrintable(host) {
		host = nil
	}
	if data[0] == 1 {
		p.req = Request{App: DHCP, Command: name, ClientID: mac, Host: bstr(host)}
		sink.Request(&p.req)
	} else {
		p.resp = Response{App: DHCP, Status: int(msgType)}
		sink.Response(&p.resp)
	}
	if p.recs.on {
		e := dhcpSummary{Type: name, XID: binary.BigEndian.Uint32(data[4:]), ClientMAC: strings.Clone(mac),
			Hostname: string(host), RequestedIP: dhcpAddr(reqIP), ServerID: dhcpAddr(server)}
		if appIsPrintable(vendor) {
			e.VendorClass = string(vendor)
		}
		if data[0] == 2 {
			e.YourIP = dhcpAddr(data[16:20])
		}
		p.recs.add(sink, e)
	}
	return len(data), nil
}

// dhcpAddr formats a 4-byte address; "" for anything else or 0.0.0.0.
func dhcpAddr(b []byte) string {
	if len(b) != 4 {
		return ""
	}
	a := netip.AddrFrom4([4]byte(b))
	if a.IsUnspecified() {
		return ""
	}
	return a.String()
}

func (p *dhcpParser) Summary() any {
	if len(p.recs.list) == 0 {
		return nil
	}
	return p.recs.list
}
