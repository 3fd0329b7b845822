package scenario

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"time"
)

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
