package l7

import (
	"fmt"
	"strings"
)

// Redis (RESP2 and RESP3): a client sends each command as an array of bulk
// strings ("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n") or, from a terminal, as an
// inline line ("PING\r\n"). The command name is the first element. Bulk
// arguments of any size are skipped as they stream by. Replies are not
// parsed: Redis has no status code beyond "-ERR".
//
// Request: Command is the command name in upper case ("SET", "CONFIG").

func init() {
	register(&Protocol{
		App:       Redis,
		Transport: TCP,
		Ports:     []uint16{6379},
		Detect:    detectRedis,
		New:       appNew[redisParser],
	})
}

// redisInline lists the commands recognised in inline form (upper case) at
// the start of a connection. Verbs that other text protocols also open with (GET for
// HTTP; AUTH, QUIT and USER for mail and FTP) are left out.
var redisInline = []string{
	"PING", "INFO", "HELLO", "SELECT", "CLIENT", "COMMAND", "SET", "DEL",
	"EXISTS", "KEYS", "SCAN", "FLUSHALL", "FLUSHDB", "CONFIG", "MONITOR",
	"SUBSCRIBE", "PSUBSCRIBE", "DBSIZE", "LPUSH", "RPUSH", "HGET", "HSET", "INCR",
	"SLAVEOF", "REPLICAOF", "SHUTDOWN", "DEBUG", "MODULE", "EVAL",
}

const (
	redisMaxArgs = 1 << 20
	redisMaxBulk = 512 << 20
)

func detectRedis(dir Dir, data []byte) Match {
	if dir != FromClient || len(data) == 0 {
		return NoMatch
	}
	if data[0] != '*' {
		// Inline commands in upper case only: lower-case "set"/"get" open
		// memcached's text protocol.
		for i := 0; i < len(data) && data[i] != ' ' && data[i] != '\r'; i++ {
			if 'a' <= data[i] && data[i] <= 'z' {
				return NoMatch
			}
		}
		return appDetectVerb(data, redisInline)
	}
	// "*<1-7 digits>\r\n$<digits>\r\n"
	i := 1
	for i < len(data) && i < 9 && '0' <= data[i] && data[i] <= '9' {
		i++
	}
	switch {
	case i == len(data):
		return NeedMore
	case i == 1 || i >= 9 || data[i] != '\r':
		return NoMatch
	}
	rest := data[i:]
	want := "\r\n$"
	if len(rest) < len(want) {
		if string(rest) == want[:len(rest)] {
			return NeedMore
		}
		return NoMatch
	}
	if string(rest[:len(want)]) != want {
		return NoMatch
	}
	rest = rest[len(want):]
	j := 0
	for j < len(rest) && j < 10 && '0' <= rest[j] && rest[j] <= '9' {
		j++
	}
	switch {
	case j == len(rest):
		return NeedMore
	case j == 0 || rest[j] != '\r':
		return NoMatch
	}
	return Matched
}

// redisSummary is one entry of the "redis" list of analyze's flow JSON.
type redisSummary struct {
	Command string `json:"command"`
}

type redisParser struct {
	lines appLineReader
	// args is the number of bulk strings of the current command still to
	// come; name reports whether the next one is the command name.
	args int64
	name bool
	skip appSkip
	req  Request
	buf  appBuf
	recs appRecords[redisSummary]
}

// Reset implements Resetter: p becomes what New(cfg) returns, and what
// Summary returned before is left alone.
func (p *redisParser) Reset(cfg *ParserConfig) {
	*p = redisParser{recs: newAppRecords[redisSummary](appCfg(cfg))}
}

func (p *redisParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	if dir == FromServer {
		return len(data), nil
	}
	off := 0
	for off < len(data) {
		if p.skip > 0 {
			off += p.skip.take(data[off:])
			continue
		}
		line, used, ok := p.lines.next(data[off:])
		if used == 0 {
			break
		}
		if !ok {
			if p.args > 0 {
				return off, fmt.Errorf("redis: bulk header longer than %d bytes", appMaxLine)
			}
			off += used
			continue
		}
		if p.args > 0 {
			// A bulk string header "$<len>" inside a command array.
			n, err := redisLength(line, '$', redisMaxBulk)
			if err != nil {
				return off, err
			}
			if p.name {
				if n <= 64 && int64(len(data)-off) < int64(used)+n+2 {
					// Wait for the whole command name: it is short.
					break
				}
				p.name = false
				var name []byte
				if n <= 64 {
					name = data[off+used : off+used+int(n)]
				}
				p.report(sink, name)
			}
			off += used
			p.args--
			p.skip = appSkip(n + 2)
			continue
		}
		off += used
		if len(line) == 0 {
			continue
		}
		if line[0] == '*' {
			n, err := redisLength(line, '*', redisMaxArgs)
			if err != nil {
				return off, err
			}
			p.args, p.name = n, n > 0
			continue
		}
		word, _ := appFirstWord(line)
		p.report(sink, word)
	}
	return off, nil
}

func (p *redisParser) report(sink Sink, name []byte) {
	p.buf.reset()
	cmd := "UNKNOWN"
	if len(name) > 0 && len(name) <= 64 {
		cmd = p.buf.upper(name)
	}
	p.req = Request{App: Redis, Command: cmd}
	sink.Request(&p.req)
	if p.recs.on {
		p.recs.add(sink, redisSummary{Command: strings.Clone(cmd)})
	}
}

// redisLength parses "<c><decimal>" of a RESP header.
func redisLength(line []byte, c byte, max int64) (int64, error) {
	if len(line) < 2 || line[0] != c {
		return 0, fmt.Errorf("redis: bad header %.40q, want %q and a length", line, c)
	}
	var n int64
	for _, d := range line[1:] {
		if d < '0' || d > '9' {
			return 0, fmt.Errorf("redis: bad length in header %.40q", line)
		}
		n = n*10 + int64(d-'0')
		if n > max {
			return 0, fmt.Errorf("redis: length in header %.40q exceeds %d", line, max)
		}
	}
	return n, nil
}

func (p *redisParser) Summary() any {
	if len(p.recs.list) == 0 {
		return nil
	}
	return p.recs.list
}
