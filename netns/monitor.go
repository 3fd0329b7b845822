package netns

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// monitorRcvBuf is the receive buffer asked for the notification socket:
// large enough for the bursts of a node starting many containers at once.
// An overrun is not fatal (it triggers a full re-list) but costs one.
const monitorRcvBuf = 4 << 20

// errOverrun says notifications were lost (ENOBUFS): re-list everything.
var errOverrun = errors.New("netns: netlink notifications lost (receive buffer overrun)")

// monitor is an rtnetlink socket in the node namespace subscribed to link
// and address notifications. With NETLINK_LISTEN_ALL_NSID it also receives
// the notifications of every namespace that has an nsid in the node
// namespace (every container's, since its veth gave it one), each tagged
// with that nsid.
type monitor struct {
	f       *os.File
	rc      syscall.RawConn
	allNSID bool  // NETLINK_LISTEN_ALL_NSID is on
	nsidErr error // why it is off, when it was asked for
	closed  atomic.Bool
	buf     []byte
	oob     []byte
}

// openMonitor opens the notification socket inside ns; allNSID asks for
// the notifications of the peer namespaces too.
func openMonitor(ns netns.NsHandle, allNSID bool) (*monitor, error) {
	var fd int
	err := inNamespace(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netns: open notification socket: %w", err)
	}
	sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netns: subscribe to link and address notifications: %w", err)
	}
	// Forcing the size needs CAP_NET_ADMIN; without it take what the
	// system allows.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, monitorRcvBuf); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, monitorRcvBuf)
	}
	m := &monitor{
		buf: make([]byte, 64<<10),
		oob: make([]byte, unix.CmsgSpace(4)*4),
	}
	// Without it (kernels before 4.7) the peers' address changes are seen
	// by the settle polling and the periodic re-list only.
	if allNSID {
		m.nsidErr = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_LISTEN_ALL_NSID, 1)
		m.allNSID = m.nsidErr == nil
	}
	m.f = os.NewFile(uintptr(fd), "rtnetlink-monitor")
	rc, err := m.f.SyscallConn()
	if err != nil {
		m.f.Close()
		return nil, fmt.Errorf("netns: notification socket: %w", err)
	}
	m.rc = rc
	return m, nil
}

// read waits for the next datagram and appends its notices to dst. It
// returns errOverrun when notifications were lost, and os.ErrClosed once
// close was called.
func (m *monitor) read(dst []notice) ([]notice, error) {
	var (
		n, oobn, flags int
		from           unix.Sockaddr
		rerr           error
	)
	err := m.rc.Read(func(fd uintptr) bool {
		n, oobn, flags, from, rerr = unix.Recvmsg(int(fd), m.buf, m.oob, 0)
		return rerr != unix.EAGAIN
	})
	if m.closed.Load() {
		return dst, os.ErrClosed
	}
	if err != nil {
		return dst, fmt.Errorf("netns: read notifications: %w", err)
	}
	switch {
	case errors.Is(rerr, unix.ENOBUFS):
		return dst, errOverrun
	case rerr != nil:
		return dst, fmt.Errorf("netns: read notifications: %w", rerr)
	case flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0:
		return dst, errOverrun
	}
	if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
		return dst, nil // not from the kernel
	}
	return decodeNotices(dst, m.buf[:n], m.oob[:oobn])
}

// close closes the socket and wakes a blocked read; safe to call twice.
func (m *monitor) close() error {
	m.closed.Store(true)
	err := m.f.Close()
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}

// inNamespace runs fn on an OS thread inside ns (if ns is not open: in the
// caller's namespace) and returns its error. fn runs on a goroutine of its
// own whose thread is locked; if the thread cannot be moved back it stays
// locked, so the runtime discards it when the goroutine ends, and no other
// goroutine ever runs in the wrong namespace.
func inNamespace(ns netns.NsHandle, fn func() error) error {
	if !ns.IsOpen() {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("get current namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter namespace: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("leave namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
