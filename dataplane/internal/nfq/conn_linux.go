package nfq

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Options size a connection's buffers.
type Options struct {
	// Batch is how many messages one Recv can return (one recvmmsg call).
	// Default 64.
	Batch int
	// MsgSize is the buffer size of one message; it must hold the copied
	// packet plus about 200 bytes of attributes. Default 65536+1024.
	MsgSize int
	// RcvBuf is the socket receive buffer in bytes, set with
	// SO_RCVBUFFORCE (CAP_NET_ADMIN) or else SO_RCVBUF. Default 32 MiB.
	RcvBuf int
}

func (o *Options) defaults() {
	if o.Batch <= 0 {
		o.Batch = 64
	}
	if o.MsgSize <= 0 {
		o.MsgSize = 65536 + 1024
	}
	if o.RcvBuf <= 0 {
		o.RcvBuf = 32 << 20
	}
}

// mmsghdr is struct mmsghdr; Go pads it to the alignment of Msghdr, as C
// does.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// Conn is a netlink socket bound to one queue. Recv and Send are for one
// goroutine (the queue's reader); Close may be called from any goroutine
// and unblocks a Recv in progress.
//
// The socket is non-blocking and Recv waits in Go's network poller. The
// receive and verdict system calls themselves are raw (no scheduler
// hand-off): neither blocks, and telling the Go scheduler about each one
// wakes its monitor thread, which measured as a fifth of the reader's CPU
// time under per-request load.
type Conn struct {
	fd    int
	file  *os.File
	rc    syscall.RawConn
	queue uint16
	seq   uint32

	buf  []byte
	size int
	hdrs []mmsghdr
	iovs []unix.Iovec

	// Results of the callbacks, kept in the struct so that the callback
	// closures are built once.
	rn      int
	rerr    error
	readFn  func(fd uintptr) bool
	out     []byte
	werr    error
	writeFn func(fd uintptr) bool

	cfgBuf []byte

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
}

// ErrClosed is returned by Recv after Close.
var ErrClosed = errors.New("nfq: connection closed")

// Open opens a netfilter netlink socket in the calling thread's network
// namespace.
func Open(opts Options) (*Conn, error) {
	opts.defaults()
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("nfq: open netfilter netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("nfq: bind netlink socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, opts.RcvBuf); err != nil {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, opts.RcvBuf); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("nfq: set receive buffer to %d bytes: %w", opts.RcvBuf, err)
		}
	}
	f := os.NewFile(uintptr(fd), "nfqueue")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("nfq: raw connection: %w", err)
	}
	c := &Conn{
		fd:   fd,
		file: f,
		rc:   rc,
		buf:  make([]byte, opts.Batch*opts.MsgSize),
		size: opts.MsgSize,
		hdrs: make([]mmsghdr, opts.Batch),
		iovs: make([]unix.Iovec, opts.Batch),
	}
	for i := range c.hdrs {
		c.iovs[i].Base = &c.buf[i*opts.MsgSize]
		c.iovs[i].SetLen(opts.MsgSize)
		c.hdrs[i].hdr.Iov = &c.iovs[i]
		c.hdrs[i].hdr.SetIovlen(1)
	}
	c.readFn = c.recvmmsg
	c.writeFn = c.write
	return c, nil
}

// RcvBuf returns the socket's receive buffer size as the kernel reports it.
func (c *Conn) RcvBuf() (int, error) {
	var n int
	var gerr error
	err := c.rc.Control(func(fd uintptr) {
		n, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	})
	return n, errors.Join(err, gerr)
}

// recvmmsg is the poller's read callback: false means "wait for
// readiness, then call again". It always tries first: the poller clears
// its readiness when a read starts, so a message that arrived while the
// last burst was being answered is found only by trying.
func (c *Conn) recvmmsg(fd uintptr) bool {
	n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&c.hdrs[0])), uintptr(len(c.hdrs)), unix.MSG_DONTWAIT, 0, 0)
	switch e {
	case unix.EAGAIN, unix.EINTR:
		return false
	case 0:
		c.rn, c.rerr = int(n), nil
	default:
		c.rn, c.rerr = 0, e
	}
	return true
}

// Recv waits for at least one message and returns how many arrived (up to
// Options.Batch) without waiting for more. Message(i) returns each. It
// returns unix.ENOBUFS when the kernel dropped messages because the socket
// buffer was full (not fatal: call Recv again), and ErrClosed after Close.
func (c *Conn) Recv() (int, error) {
	err := c.rc.Read(c.readFn)
	if err != nil {
		if c.closed.Load() || errors.Is(err, os.ErrClosed) {
			return 0, ErrClosed
		}
		return 0, fmt.Errorf("nfq: receive on queue %d: %w", c.queue, err)
	}
	if c.rerr != nil {
		return 0, c.rerr
	}
	return c.rn, nil
}

// Message returns message i of the last Recv; it aliases the connection's
// buffer until the next Recv. Truncated reports a message cut because it
// was larger than the buffer.
func (c *Conn) Message(i int) (b []byte, truncated bool) {
	h := &c.hdrs[i]
	n := int(h.len)
	truncated = h.hdr.Flags&unix.MSG_TRUNC != 0 || n > c.size
	n = min(n, c.size)
	return c.buf[i*c.size : i*c.size+n], truncated
}

// Send writes b (one or more complete netlink messages) to the kernel. It
// holds the descriptor while writing, so a concurrent Close cannot hand
// its number to another file mid-write.
func (c *Conn) Send(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	c.out, c.werr = b, nil
	err := c.rc.Write(c.writeFn)
	c.out = nil
	if err == nil {
		err = c.werr
	}
	if err != nil {
		return fmt.Errorf("nfq: send %d bytes to queue %d: %w", len(b), c.queue, err)
	}
	return nil
}

// write is the poller's write callback. A netlink message to the kernel is
// processed inside the call and never waits for buffer space.
func (c *Conn) write(fd uintptr) bool {
	for {
		_, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&c.out[0])), uintptr(len(c.out)))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			c.werr = e
		}
		return true
	}
}

// Close closes the socket; the kernel unbinds its queue. Safe to call more
// than once and concurrently with Recv.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.closeErr = c.file.Close()
	})
	return c.closeErr
}

// Bind binds the connection to cfg.Queue and configures it. Packets that
// arrive while it waits for the kernel's acknowledgements (rules left by a
// previous run may already send packets to the queue) get verdict
// pending. The error of a refused setting wraps its errno (for example
// unix.EOPNOTSUPP for FlagConntrack on a kernel without conntrack glue;
// unix.EPERM for a queue another socket, in this or another process,
// holds; unix.EBUSY when this socket binds the same queue twice).
func (c *Conn) Bind(cfg Config, pending uint32) error {
	c.queue = cfg.Queue
	if err := c.config(func(b []byte, seq uint32) []byte { return appendCmd(b, seq, c.queue, cmdBind) }, pending, "bind"); err != nil {
		return err
	}
	if err := c.config(func(b []byte, seq uint32) []byte { return appendParams(b, seq, c.queue, cfg.CopyLen) }, pending, "set copy range"); err != nil {
		return err
	}
	if cfg.MaxLen > 0 {
		if err := c.config(func(b []byte, seq uint32) []byte { return appendMaxLen(b, seq, c.queue, cfg.MaxLen) }, pending, "set queue length"); err != nil {
			return err
		}
	}
	if cfg.FlagMask != 0 {
		return c.SetFlags(cfg.Flags, cfg.FlagMask, pending)
	}
	return nil
}

// SetFlags sets the queue flags in mask to flags.
func (c *Conn) SetFlags(flags, mask, pending uint32) error {
	return c.config(func(b []byte, seq uint32) []byte { return appendFlags(b, seq, c.queue, flags, mask) }, pending, fmt.Sprintf("set flags %#x/%#x", flags, mask))
}

// config sends one config message and waits for its acknowledgement.
func (c *Conn) config(enc func([]byte, uint32) []byte, pending uint32, what string) error {
	c.seq++
	seq := c.seq
	c.cfgBuf = enc(c.cfgBuf[:0], seq)
	if err := c.Send(c.cfgBuf); err != nil {
		return fmt.Errorf("nfq: queue %d: %s: %w", c.queue, what, err)
	}
	// The kernel processes a request synchronously inside the write, so
	// its acknowledgement is already queued; a few rounds drain packets
	// that arrived first.
	var m Msg
	for round := 0; round < 1000; round++ {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(c.fd), uintptr(unsafe.Pointer(&c.hdrs[0])), uintptr(len(c.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EINTR || e == unix.ENOBUFS {
			continue
		}
		if e != 0 {
			return fmt.Errorf("nfq: queue %d: %s: waiting for acknowledgement: %w", c.queue, what, e)
		}
		var vb []byte
		for i := 0; i < int(n); i++ {
			b, _ := c.Message(i)
			if err := Parse(b, &m); err != nil {
				continue
			}
			switch m.Kind {
			case KindPacket:
				vb = AppendVerdict(vb, Verdict{Queue: m.Queue, ID: m.ID, Verdict: pending}, false)
			case KindAck, KindError:
				if m.Seq != seq {
					continue
				}
				if len(vb) > 0 {
					_ = c.Send(vb)
				}
				if m.Kind == KindError {
					return fmt.Errorf("nfq: queue %d: %s: %w", c.queue, what, syscall.Errno(m.Errno))
				}
				return nil
			}
		}
		if len(vb) > 0 {
			_ = c.Send(vb)
		}
	}
	return fmt.Errorf("nfq: queue %d: %s: no acknowledgement from the kernel", c.queue, what)
}
