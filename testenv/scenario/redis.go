package scenario

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"bulkhead.dev/bulkhead/testenv"
)

// StartRedis runs a real redis-server in container c, bound to its IPv4
// and IPv6 addresses on RedisPort, without persistence, its configuration,
// files and log in dir; and waits (15 s at most) until it answers PING from
// c. It stops with c's namespace (testenv.Node.Close).
func StartRedis(ctx context.Context, c *testenv.Container, dir string) (*testenv.Process, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("scenario: redis directory: %w", err)
	}
	conf := filepath.Join(dir, "redis.conf")
	bind := c.IP4.String()
	if c.IP6.IsValid() {
		bind += " " + c.IP6.String()
	}
	text := fmt.Sprintf("bind %s\nport %d\nprotected-mode no\nsave \"\"\nappendonly no\ndir %s\ndaemonize no\nlogfile \"\"\n",
		bind, RedisPort, dir)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, fmt.Errorf("scenario: write %s: %w", conf, err)
	}
	logPath := filepath.Join(dir, "redis.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("scenario: redis log: %w", err)
	}
	defer logf.Close() // the child has its own descriptor
	// Not tied to ctx: it runs until the namespace goes.
	p, err := c.StartProgram(context.Background(), logf, logf, "redis-server", conf)
	if err != nil {
		return nil, fmt.Errorf("scenario: start redis-server in %s: %w", c.Name, err)
	}
	rc := &redisClient{dial: c.DialContext, addr: netip.AddrPortFrom(c.IP4, RedisPort).String()}
	var last error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		if p.Exited() {
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("scenario: redis-server exited: %v\n%s", p.Wait(), b)
		}
		rep, err := rc.Do(ctx, "PING")
		if err == nil && rep.Str == "PONG" {
			return p, nil
		}
		last = fmt.Errorf("redis PING: %v %v", rep, err)
		select {
		case <-ctx.Done():
			_ = p.Kill()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	_ = p.Kill()
	return nil, fmt.Errorf("scenario: redis in %s does not answer: %w", c.Name, last)
}

// redisClient sends one command per connection, the way a client without a
// connection pool does: dial, send, read the reply, close.
type redisClient struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	addr string
}

// RedisError is an error reply from redis.
type RedisError struct{ Msg string }

func (e *RedisError) Error() string { return "redis: " + e.Msg }

// Do runs one command. An error reply is returned as *RedisError.
func (c *redisClient) Do(ctx context.Context, args ...string) (Reply, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := c.dial(ctx, "tcp", c.addr)
	if err != nil {
		return Reply{}, fmt.Errorf("redis %s: %w", args[0], err)
	}
	defer conn.Close()
	return roundTrip(ctx, conn, args...)
}

// roundTrip sends one command on conn and reads its reply.
func roundTrip(ctx context.Context, conn net.Conn, args ...string) (Reply, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write(AppendCommand(nil, args...)); err != nil {
		return Reply{}, fmt.Errorf("redis %s: send: %w", args[0], err)
	}
	rep, err := ReadReply(bufio.NewReader(conn))
	if err != nil {
		return Reply{}, fmt.Errorf("redis %s: %w", args[0], err)
	}
	if rep.Kind == '-' {
		return rep, &RedisError{Msg: rep.Str}
	}
	return rep, nil
}
