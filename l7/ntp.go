package l7

import "encoding/binary"

// NTP (RFC 5905, RFC 1305) over UDP 123. The first byte holds the leap
// indicator, the version (1 to 4) and the mode (1 symmetric active,
// 2 symmetric passive, 3 client, 4 server, 5 broadcast, 6 control, 7
// private). Modes 1 to 5 carry a 48-byte header (stratum, poll, precision,
// root delay and dispersion, reference id, four timestamps), optionally
// followed by extension fields and a MAC. Mode 6 (ntpq) has a 12-byte
// header and mode 7 (ntpdc, "monlist") an 8-byte one.
//
// Request: client, symmetric-active, control and private requests:
// Command the mode name in upper case ("CLIENT", "CONTROL", "PRIVATE"),
// Version the NTP version ("4").
// Response: server, symmetric-passive, broadcast and control/private
// responses: Status the stratum (modes 1-5) or -1, Version the version.

func init() {
	register(&Protocol{
		App:       NTP,
		Transport: UDP,
		Ports:     []uint16{123},
		Detect:    detectNTP,
		New:       appNew[ntpParser],
	})
}

var ntpModes = [8]string{"reserved", "symmetric_active", "symmetric_passive", "client", "server", "broadcast", "control", "private"}

var ntpModesUpper = [8]string{"RESERVED", "SYMMETRIC_ACTIVE", "SYMMETRIC_PASSIVE", "CLIENT", "SERVER", "BROADCAST", "CONTROL", "PRIVATE"}

func detectNTP(dir Dir, data []byte) Match {
	if len(data) < 8 {
		return NoMatch
	}
	vn, mode := data[0]>>3&7, data[0]&7
	if vn < 1 || vn > 4 {
		return NoMatch
	}
	switch mode {
	case 1, 2, 3, 4, 5:
		// 48 bytes, plus a MAC (key id + MD5 or SHA-1) or extension
		// fields in multiples of 4; stratum at most 16, poll a sane log2.
		n := len(data)
		if n < 48 || n > 1024 || (n-48)%4 != 0 || data[1] > 16 || int8(data[2]) < -6 && data[2] != 0 || int8(data[2]) > 17 {
			return NoMatch
		}
		return Matched
	case 6:
		// R/E/M bits and opcode 1..31; count within the datagram.
		if len(data) < 12 {
			return NoMatch
		}
		count := int(binary.BigEndian.Uint16(data[10:]))
		op := data[1] & 0x1f
		if op == 0 || 12+count > len(data) || count > 468 {
			return NoMatch
		}
		return Matched
	case 7:
		// Implementation 0, 2 or 3 (univ, xntpd old, xntpd); item size
		// within the datagram.
		impl := data[2]
		if impl != 0 && impl != 2 && impl != 3 || vn < 2 {
			return NoMatch
		}
		return Matched
	}
	return NoMatch
}

// ntpSummary is one entry of the "ntp" list of analyze's flow JSON.
type ntpSummary struct {
	Version int    `json:"version"`
	Mode    string `json:"mode"`
	Stratum *int   `json:"stratum,omitempty"`
}

type ntpParser struct {
	req  Request
	resp Response
	recs appRecords[ntpSummary]
}

// Reset implements Resetter: p becomes what New(cfg) returns, and what
// Summary returned before is left alone.
func (p *ntpParser) Reset(cfg *ParserConfig) {
	*p = ntpParser{recs: newAppRecords[ntpSummary](appCfg(cfg))}
}

func (p *ntpParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	if detectNTP(dir, data) != Matched {
		return len(data), nil
	}
	vn, mode := int(data[0]>>3&7), data[0]&7
	response := false
	status := -1
	switch mode {
	case 2, 4, 5:
		response = true
	case 6:
		response = data[1]&0x80 != 0 // R bit of the control header
	case 7:
		response = data[0]&0x80 != 0 // R bit of the private header
	}
	if mode <= 5 {
		status = int(data[1])
	}
	if response {
		p.resp = Response{App: NTP, Status: status, Version: appItoa(vn)}
		sink.Response(&p.resp)
	} else {
		p.req = Request{App: NTP, Command: ntpModesUpper[mode], Version: appItoa(vn)}
		sink.Request(&p.req)
	}
	if p.recs.on {
		e := ntpSummary{Version: vn, Mode: ntpModes[mode]}
		if mode <= 5 {
			e.Stratum = new(int)
			*e.Stratum = status
		}
		p.recs.add(sink, e)
	}
	return len(data), nil
}

func (p *ntpParser) Summary() any {
	if len(p.recs.list) == 0 {
		return nil
	}
	return p.recs.list
}
