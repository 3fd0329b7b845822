package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Listen is net.Listen inside the host's namespace.
func (h *Host) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := h.Do(func() (err error) {
		l, err = net.Listen(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("testenv: listen %s %s in %s: %w", network, addr, h.Name, err)
	}
	return l, nil
}

// ListenPacket is net.ListenPacket inside the host's namespace.
func (h *Host) ListenPacket(network, addr string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := h.Do(func() (err error) {
		pc, err = net.ListenPacket(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("testenv: listen %s %s in %s: %w", network, addr, h.Name, err)
	}
	return pc, nil
}

// Dial connects from inside the host's namespace, with a 5 s timeout.
func (h *Host) Dial(network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return h.DialContext(ctx, network, addr)
}

// DialContext connects from inside the host's namespace.
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := h.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("testenv: dial %s %s from %s: %w", network, addr, h.Name, err)
	}
	return c, nil
}

// HTTPClient returns an HTTP client whose connections start in the host's
// namespace. It keeps connections alive like http.DefaultClient.
func (h *Host) HTTPClient() *http.Client {
	tr := &http.Transport{
		DialContext:         h.DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}
