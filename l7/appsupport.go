package l7

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
)

// This file holds the small helpers shared by the application parsers that
// sit beside HTTP, TLS, DNS and QUIC (ssh.go … ntp.go): an upper-casing
// scratch buffer, a line reader and a frame window for streamed input, and
// the capped record list behind Summary. Their zero-copy strings come from
// bstr (normalize.go).

const (
	// appWindow is the most bytes of one length-prefixed message a parser
	// waits for before it inspects it. Larger messages are inspected on
	// their first appWindow bytes and the rest is skipped as it streams by,
	// so a parser never needs more than this much of the engine's buffer.
	appWindow = 8 << 10
	// appMaxLine bounds a text protocol line. Longer lines are discarded as
	// they stream by (their content is not inspected).
	appMaxLine = 4 << 10
	// appDefaultMaxRecords caps a Summary's list when ParserConfig does not.
	appDefaultMaxRecords = 256
	// noteRecordsTruncated is noted once when a Summary's list is full.
	noteRecordsTruncated = "records truncated"
)

// appCfg returns cfg, or an empty configuration when cfg is nil.
func appCfg(cfg *ParserConfig) ParserConfig {
	if cfg == nil {
		return ParserConfig{}
	}
	return *cfg
}

// appResetter is a parser type whose pointer implements Parser and
// Resetter.
type appResetter[T any] interface {
	*T
	Parser
	Resetter
}

// appNew is the Protocol.New of a parser that implements Resetter: a new T
// reset for cfg. Reset is thus the only place that sets a parser's initial
// state, and a pooled parser starts each flow exactly as a new one does.
func appNew[T any, P appResetter[T]](cfg *ParserConfig) Parser {
	p := P(new(T))
	p.Reset(cfg)
	return p
}

// appRecords is the capped list a Summary keeps. The zero value keeps
// nothing; newAppRecords makes one that keeps up to cfg.MaxRecords entries
// when cfg.Summaries is set.
type appRecords[T any] struct {
	on   bool
	max  int
	list []T
	full bool
}

func newAppRecords[T any](cfg ParserConfig) appRecords[T] {
	m := cfg.MaxRecords
	if m <= 0 {
		m = appDefaultMaxRecords
	}
	return appRecords[T]{on: cfg.Summaries, max: m}
}

// add appends v, or notes "records truncated" once when the list is full.
func (r *appRecords[T]) add(sink Sink, v T) {
	if !r.on {
		return
	}
	if len(r.list) >= r.max {
		if !r.full {
			r.full = true
			sink.Note(noteRecordsTruncated)
		}
		return
	}
	r.list = append(r.list, v)
}

// appBuf is per-parser scratch space for strings that cannot alias the
// input (upper-cased verbs, formatted numbers). Strings made from it are
// valid until the next reset, which parsers call before building a Request.
type appBuf struct {
	b [256]byte
	n int
}

func (s *appBuf) reset() { s.n = 0 }

// upper returns w in upper case: w itself when it has no lower-case ASCII
// letter, else a copy in the scratch space (truncated when it is full).
func (s *appBuf) upper(w []byte) string {
	lower := false
	for _, c := range w {
		if 'a' <= c && c <= 'z' {
			lower = true
			break
		}
	}
	if !lower {
		return bstr(w)
	}
	start := s.n
	for _, c := range w {
		if s.n == len(s.b) {
			break
		}
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		s.b[s.n] = c
		s.n++
	}
	return bstr(s.b[start:s.n])
}

// itoa formats n in the scratch space.
func (s *appBuf) itoa(n int64) string {
	if len(s.b)-s.n < 20 {
		return strconv.FormatInt(n, 10)
	}
	out := strconv.AppendInt(s.b[s.n:s.n], n, 10)
	s.n += len(out)
	return bstr(out)
}

// join writes the parts one after the other in the scratch space
// (truncated when it is full) and returns them as one string.
func (s *appBuf) join(parts ...[]byte) string {
	start := s.n
	for _, p := range parts {
		s.n += copy(s.b[s.n:], p)
	}
	return bstr(s.b[start:s.n])
}

// mac formats a hardware address as lowercase colon-separated hex.
func (s *appBuf) mac(hw []byte) string {
	const hexd = "0123456789abcdef"
	start := s.n
	for i, c := range hw {
		if len(s.b)-s.n < 3 {
			break
		}
		if i > 0 {
			s.b[s.n] = ':'
			s.n++
		}
		s.b[s.n], s.b[s.n+1] = hexd[c>>4], hexd[c&15]
		s.n += 2
	}
	return bstr(s.b[start:s.n])
}

// appLineReader splits a text stream into lines ending in LF (an optional
// CR before it is dropped). A line longer than appMaxLine is discarded as
// it streams by, so the reader never asks for more than appMaxLine bytes.
type appLineReader struct {
	discarding bool
}

// next returns the first line of data. used is the number of bytes of data
// the call took: 0 means "wait for more bytes"; ok is false when the bytes
// used were (part of) a discarded over-long line.
func (r *appLineReader) next(data []byte) (line []byte, used int, ok bool) {
	i := bytes.IndexByte(data, '\n')
	if r.discarding {
		if i < 0 {
			return nil, len(data), false
		}
		r.discarding = false
		return nil, i + 1, false
	}
	if i < 0 {
		if len(data) > appMaxLine {
			r.discarding = true
			return nil, len(data), false
		}
		return nil, 0, false
	}
	if i > appMaxLine {
		return nil, i + 1, false
	}
	line = data[:i]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, i + 1, true
}

// appSkip counts bytes of the stream still to be passed over (the rest of a
// message larger than appWindow, a data block, a literal).
type appSkip int64

// take consumes up to *s bytes from the start of data and returns how many.
func (s *appSkip) take(data []byte) int {
	if *s <= 0 {
		return 0
	}
	n := len(data)
	if int64(n) > int64(*s) {
		n = int(*s)
	}
	*s -= appSkip(n)
	return n
}

// appFrame decides what to do with a message of total bytes at the start of
// rest. ok is false when the caller must wait for more bytes. Otherwise msg
// is the part of the message to inspect (the whole message, or its first
// appWindow bytes or more), used is how many bytes of rest to consume now
// and skip how many more bytes of the stream belong to this message.
func appFrame(rest []byte, total int64) (msg []byte, used int, skip appSkip, ok bool) {
	if total <= int64(len(rest)) {
		return rest[:total], int(total), 0, true
	}
	if len(rest) < appWindow {
		return nil, 0, 0, false
	}
	return rest, len(rest), appSkip(total - int64(len(rest))), true
}

// appFirstWord returns the leading run of non-space bytes of line and the
// rest of the line after the spaces that follow it.
func appFirstWord(line []byte) (word, rest []byte) {
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return line, nil
	}
	word, rest = line[:i], line[i+1:]
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	return word, rest
}

// appHasPrefixFold reports whether b starts with the ASCII string s,
// ignoring case.
func appHasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && appIsFoldPrefixOf(b[:len(s)], s)
}

// appIsFoldPrefixOf reports whether b is a prefix of the ASCII string s,
// ignoring case.
func appIsFoldPrefixOf(b []byte, s string) bool {
	if len(b) > len(s) {
		return false
	}
	for i, x := range b {
		y := s[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// appEqualFold reports whether b equals the ASCII string s, ignoring case.
func appEqualFold(b []byte, s string) bool {
	return len(b) == len(s) && appHasPrefixFold(b, s)
}

// appIsLetters reports whether b is a non-empty run of ASCII letters.
func appIsLetters(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// appIsPrintable reports whether b is printable ASCII (tabs allowed).
func appIsPrintable(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\t') || c > 0x7e {
			return false
		}
	}
	return true
}

// appDetectPrefix matches data against a fixed prefix: NeedMore while data
// is a shorter prefix of it, Matched once data starts with it.
func appDetectPrefix(data []byte, prefix string) Match {
	if len(data) < len(prefix) {
		if string(data) == prefix[:len(data)] {
			return NeedMore
		}
		return NoMatch
	}
	if string(data[:len(prefix)]) == prefix {
		return Matched
	}
	return NoMatch
}

// appDetectVerb matches the first line of a text protocol against a list
// of command verbs (case-insensitive), each of which must be followed by a
// space or the end of the line. NeedMore while the first word may still
// become one of them.
func appDetectVerb(data []byte, verbs []string) Match {
	n := len(data)
	if n > 24 {
		n = 24
	}
	end := -1
	for i := 0; i < n; i++ {
		c := data[i]
		if c == ' ' || c == '\r' || c == '\n' {
			end = i
			break
		}
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return NoMatch
		}
	}
	if end < 0 {
		if len(data) >= 24 {
			return NoMatch
		}
		for _, v := range verbs {
			if appIsFoldPrefixOf(data, v) {
				return NeedMore
			}
		}
		return NoMatch
	}
	w := data[:end]
	for _, v := range verbs {
		if appEqualFold(w, v) {
			if data[end] == '\r' && len(data) > end+1 && data[end+1] != '\n' {
				return NoMatch
			}
			return Matched
		}
	}
	return NoMatch
}

// appSQLKind returns the statement kind of an SQL text: its first keyword
// after white space, comments and opening parentheses ("SELECT",
// "INSERT", "WITH"…), at most 24 letters; nil when there is none.
func appSQLKind(q []byte) []byte {
	for len(q) > 0 {
		switch c := q[0]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '(' || c == ';':
			q = q[1:]
		case c == '/' && len(q) > 1 && q[1] == '*':
			end := bytes.Index(q[2:], []byte("*/"))
			if end < 0 {
				return nil
			}
			q = q[2+end+2:]
		case c == '-' && len(q) > 1 && q[1] == '-', c == '#':
			end := bytes.IndexByte(q, '\n')
			if end < 0 {
				return nil
			}
			q = q[end+1:]
		default:
			n := 0
			for n < len(q) && n < 24 && ('a' <= q[n] && q[n] <= 'z' || 'A' <= q[n] && q[n] <= 'Z' || q[n] == '_') {
				n++
			}
			if n == 0 {
				return nil
			}
			return q[:n]
		}
	}
	return nil
}

// appJSONString finds "key": "value" in a flat JSON object and returns the
// raw value (escapes are left as they are). It does not track nesting: the
// first occurrence of the key wins. nil when absent.
func appJSONString(obj []byte, key string) []byte {
	for i := 0; i < len(obj); {
		j := bytes.Index(obj[i:], []byte(key))
		if j < 0 {
			return nil
		}
		k := i + j
		i = k + len(key)
		if k == 0 || obj[k-1] != '"' || i >= len(obj) || obj[i] != '"' {
			continue
		}
		v := i + 1
		for v < len(obj) && (obj[v] == ' ' || obj[v] == '\t') {
			v++
		}
		if v >= len(obj) || obj[v] != ':' {
			continue
		}
		v++
		for v < len(obj) && (obj[v] == ' ' || obj[v] == '\t') {
			v++
		}
		if v >= len(obj) || obj[v] != '"' {
			return nil
		}
		v++
		for e := v; e < len(obj); e++ {
			switch obj[e] {
			case '\\':
				e++
			case '"':
				return obj[v:e]
			}
		}
		return nil
	}
	return nil
}

// appSmallInts holds the decimal strings of 0..255, for version numbers
// and API versions reported without allocating.
var appSmallInts = func() (s [256]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

// appItoa returns the decimal string of n without allocating for 0..255.
func appItoa(n int) string {
	if n >= 0 && n < len(appSmallInts) {
		return appSmallInts[n]
	}
	return strconv.Itoa(n)
}

// appTextSession is the state shared by the line-oriented protocols
// (SMTP, IMAP, POP3, FTP): per-direction line readers and skips, the
// STARTTLS-style upgrade, and the summary's greeting and command list.
type appTextSession struct {
	lines [2]appLineReader
	skip  [2]appSkip
	// upgrade is set once the client asked to switch to TLS and not yet
	// answered; opaque once the server accepted: both directions are TLS.
	upgrade  bool
	opaque   bool
	req      Request
	resp     Response
	buf      appBuf
	greeting string
	cmds     appRecords[string]
}

// newAppTextSession returns the initial session state for cfg.
func newAppTextSession(cfg *ParserConfig) appTextSession {
	return appTextSession{cmds: newAppRecords[string](appCfg(cfg))}
}

// appLineHandler handles one complete line of a text protocol.
type appLineHandler interface {
	line(dir Dir, line []byte, sink Sink) error
}

// run feeds the complete lines of data to h and returns the bytes used.
// After the upgrade to TLS it takes everything and returns ErrDone.
func (t *appTextSession) run(dir Dir, data []byte, sink Sink, h appLineHandler) (int, error) {
	off := 0
	for off < len(data) {
		if t.opaque {
			return len(data), ErrDone
		}
		if t.skip[dir] > 0 {
			off += t.skip[dir].take(data[off:])
			continue
		}
		line, used, ok := t.lines[dir].next(data[off:])
		if used == 0 {
			break
		}
		off += used
		if !ok {
			continue
		}
		if err := h.line(dir, line, sink); err != nil {
			return off, err
		}
	}
	return off, nil
}

// command reports a client command: Command is verb in upper case.
func (t *appTextSession) command(app App, verb []byte, sink Sink) string {
	t.buf.reset()
	cmd := "UNKNOWN"
	if len(verb) > 0 && len(verb) <= 32 && appIsLetters(verb) {
		cmd = t.buf.upper(verb)
	}
	t.req = Request{App: app, Command: cmd}
	return cmd
}

// send hands t.req to the sink and records its command for the summary.
func (t *appTextSession) send(sink Sink) {
	sink.Request(&t.req)
	if t.cmds.on {
		t.cmds.add(sink, strings.Clone(t.req.Command))
	}
}

// reply reports a server reply with status.
func (t *appTextSession) reply(app App, status int, sink Sink) {
	t.resp = Response{App: app, Status: status}
	sink.Response(&t.resp)
}

// upgraded notes the switch to TLS; both directions stop.
func (t *appTextSession) upgraded(note string, sink Sink) {
	t.upgrade = false
	t.opaque = true
	sink.Note(note)
}

// setGreeting keeps the server's first line for the summary.
func (t *appTextSession) setGreeting(line []byte) {
	if t.cmds.on && t.greeting == "" {
		t.greeting = string(line)
	}
}

// appReplyCode parses a "NNN text" or "NNN-text" reply line (SMTP, FTP):
// its code and whether more lines of the same reply follow.
func appReplyCode(line []byte) (code int, more, ok bool) {
	if len(line) < 3 {
		return 0, false, false
	}
	for _, c := range line[:3] {
		if c < '0' || c > '9' {
			return 0, false, false
		}
		code = code*10 + int(c-'0')
	}
	if len(line) > 3 {
		switch line[3] {
		case '-':
			more = true
		case ' ':
		default:
			return 0, false, false
		}
	}
	return code, more, true
}

// appDetectGreeting matches a server greeting "220 …" (SMTP, FTP) whose
// first line contains keyword (case-insensitive): NeedMore until the line
// is complete, NoMatch when it lacks the keyword.
func appDetectGreeting(data []byte, keyword string) Match {
	m := appDetectPrefix(data, "220")
	if m != Matched {
		return m
	}
	if len(data) > 3 && data[3] != ' ' && data[3] != '-' {
		return NoMatch
	}
	end := bytes.IndexByte(data, '\n')
	if end < 0 {
		if len(data) > 512 {
			return NoMatch
		}
		end = len(data)
	}
	line := data[:end]
	for i := 0; i+len(keyword) <= len(line); i++ {
		if appHasPrefixFold(line[i:], keyword) {
			return Matched
		}
	}
	if end == len(data) {
		return NeedMore
	}
	return NoMatch
}

// appFramer is implemented by the parsers of length-prefixed protocols.
type appFramer interface {
	// frameLen returns the total length of the message at the start of
	// rest, header included; 0 when more bytes are needed to tell. An
	// error stops the direction (ErrDone: nothing more to parse).
	frameLen(dir Dir, rest []byte) (int64, error)
	// frame handles one message: all of it, or its first appWindow bytes
	// or more when it is larger (the rest is skipped).
	frame(dir Dir, msg []byte, sink Sink) error
}

// appFrames feeds the complete messages of data to f and returns the bytes
// used; skip carries the unread rest of a large message across calls.
func appFrames(dir Dir, data []byte, skip *appSkip, f appFramer, sink Sink) (int, error) {
	off := 0
	for off < len(data) {
		if *skip > 0 {
			off += skip.take(data[off:])
			continue
		}
		total, err := f.frameLen(dir, data[off:])
		if err != nil {
			if errors.Is(err, ErrDone) {
				return len(data), err
			}
			return off, err
		}
		if total == 0 {
			break
		}
		msg, used, rest, ok := appFrame(data[off:], total)
		if !ok {
			break
		}
		off += used
		*skip = rest
		if err := f.frame(dir, msg, sink); err != nil {
			return off, err
		}
	}
	return off, nil
}
