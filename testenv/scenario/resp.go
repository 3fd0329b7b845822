package scenario

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The api talks to redis with real RESP (REdis Serialization Protocol)
// commands. This file holds the two halves of the protocol it needs:
// encoding a command and decoding one reply.

// Reply is one decoded RESP2 reply.
type Reply struct {
	// Kind is the type byte: '+' simple string, '-' error, ':' integer,
	// '$' bulk string, '*' array.
	Kind byte
	// Str is the text of a simple string, error or bulk string.
	Str string
	// Int is the value of an integer.
	Int int64
	// Nil is true for the null bulk string ($-1) and the null array (*-1).
	Nil bool
	// Elems are an array's elements.
	Elems []Reply
}

// Bounds on what ReadReply accepts: a misbehaving server cannot make the
// client allocate without limit.
const (
	maxRESPLine  = 64 << 10
	maxRESPBulk  = 1 << 20
	maxRESPArray = 1024
	maxRESPDepth = 8
)

// AppendCommand appends args encoded as a RESP array of bulk strings, the
// form redis expects from clients.
func AppendCommand(b []byte, args ...string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

// ReadReply decodes one reply from r.
func ReadReply(r *bufio.Reader) (Reply, error) {
	return readReply(r, 0)
}

func readReply(r *bufio.Reader, depth int) (Reply, error) {
	line, err := readRESPLine(r)
	if err != nil {
		return Reply{}, err
	}
	if len(line) == 0 {
		return Reply{}, errors.New("resp: empty reply line")
	}
	rep := Reply{Kind: line[0]}
	body := string(line[1:])
	switch rep.Kind {
	case '+', '-':
		rep.Str = body
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return Reply{}, fmt.Errorf("resp: bad integer %q: %w", body, err)
		}
		rep.Int = n
	case '$':
		n, err := respLength(body, maxRESPBulk)
		if err != nil {
			return Reply{}, fmt.Errorf("resp: bulk string: %w", err)
		}
		if n < 0 {
			rep.Nil = true
			return rep, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return Reply{}, fmt.Errorf("resp: bulk string of %d bytes: %w", n, err)
		}
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return Reply{}, fmt.Errorf("resp: bulk string of %d bytes not followed by CRLF", n)
		}
		rep.Str = string(buf[:n])
	case '*':
		if depth >= maxRESPDepth {
			return Reply{}, fmt.Errorf("resp: arrays nested deeper than %d", maxRESPDepth)
		}
		n, err := respLength(body, maxRESPArray)
		if err != nil {
			return Reply{}, fmt.Errorf("resp: array: %w", err)
		}
		if n < 0 {
			rep.Nil = true
			return rep, nil
		}
		rep.Elems = make([]Reply, 0, n)
		for i := 0; i < n; i++ {
			e, err := readReply(r, depth+1)
			if err != nil {
				return Reply{}, fmt.Errorf("resp: array element %d: %w", i, err)
			}
			rep.Elems = append(rep.Elems, e)
		}
	default:
		return Reply{}, fmt.Errorf("resp: unknown reply type %q", rep.Kind)
	}
	return rep, nil
}

// respLength parses a bulk or array length: -1 (null) or 0..max.
func respLength(s string, max int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("bad length %q: %w", s, err)
	}
	if n < -1 || n > max {
		return 0, fmt.Errorf("length %d out of range -1..%d", n, max)
	}
	return n, nil
}

// readRESPLine reads one CRLF-terminated line, without the CRLF.
func readRESPLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxRESPLine {
			return nil, fmt.Errorf("resp: line longer than %d bytes", maxRESPLine)
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("resp: read reply: %w", err)
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("resp: line %q does not end with CRLF", line)
	}
	return line[:len(line)-2], nil
}

// String renders a reply the way redis-cli does, on one line.
func (r Reply) String() string {
	switch {
	case r.Nil:
		return "(nil)"
	case r.Kind == '-':
		return "(error) " + r.Str
	case r.Kind == ':':
		return "(integer) " + strconv.FormatInt(r.Int, 10)
	case r.Kind == '*':
		b := []byte{'['}
		for i, e := range r.Elems {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, e.String()...)
		}
		return string(append(b, ']'))
	case r.Kind == '$':
		return strconv.Quote(r.Str)
	}
	return r.Str
}
