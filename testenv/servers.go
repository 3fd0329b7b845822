package testenv

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Server is a Go server running inside a host's namespace. The host stops
// it when it closes; Close stops it earlier.
type Server struct {
	// Addr is the address the server listens on (TCP for HTTP, TCP echo
	// and DNS; UDP for UDP echo).
	Addr  net.Addr
	once  sync.Once
	close func() error
	err   error
}

// Close stops the server. It is safe to call more than once.
func (s *Server) Close() error {
	s.once.Do(func() { s.err = s.close() })
	return s.err
}

func (h *Host) track(s *Server) *Server {
	h.onClose(s.Close)
	return s
}

// ServeHTTP serves handler over HTTP/1.1 on addr (e.g. ":8080") inside the
// namespace. A nil handler answers every request with 200 and a body
// "<method> <path> from <host name>\n".
func (h *Host) ServeHTTP(addr string, handler http.Handler) (*Server, error) {
	l, err := h.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if handler == nil {
		name := h.Name
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s from %s\n", r.Method, r.URL.Path, name)
		})
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		_ = srv.Serve(l)
	}()
	return h.track(&Server{Addr: l.Addr(), close: srv.Close}), nil
}

// ServeTCPEcho runs a TCP server on addr that writes back every byte it
// reads, until the client closes its side.
func (h *Host) ServeTCPEcho(addr string) (*Server, error) {
	l, err := h.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		wg    sync.WaitGroup
	)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(c, c)
				_ = c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	return h.track(&Server{Addr: l.Addr(), close: func() error {
		err := l.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
		return err
	}}), nil
}

// ServeUDPEcho runs a UDP server on addr that sends every datagram back to
// its sender.
func (h *Host) ServeUDPEcho(addr string) (*Server, error) {
	pc, err := h.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(buf[:n], from)
		}
	}()
	return h.track(&Server{Addr: pc.LocalAddr(), close: pc.Close}), nil
}

// Zone is what a test DNS server answers: resource records in zone-file
// presentation format, e.g. "api.example.com. 60 IN A 198.19.1.2". Names
// without records get NXDOMAIN; a name with records but none of the asked
// type gets an empty NOERROR answer.
type Zone []string

// ServeDNS runs a DNS server (github.com/miekg/dns) on addr over UDP and
// TCP, answering from zone.
func (h *Host) ServeDNS(addr string, zone Zone) (*Server, error) {
	records := map[string][]dns.RR{}
	for _, z := range zone {
		rr, err := dns.NewRR(z)
		if err != nil {
			return nil, fmt.Errorf("testenv: bad DNS record %q: %w", z, err)
		}
		if rr == nil {
			continue
		}
		name := strings.ToLower(rr.Header().Name)
		records[name] = append(records[name], rr)
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		if len(req.Question) == 1 {
			q := req.Question[0]
			rrs, ok := records[strings.ToLower(q.Name)]
			if !ok {
				m.Rcode = dns.RcodeNameError
			}
			for _, rr := range rrs {
				if rr.Header().Rrtype == q.Qtype || rr.Header().Rrtype == dns.TypeCNAME {
					m.Answer = append(m.Answer, rr)
				}
			}
		} else {
			m.Rcode = dns.RcodeFormatError
		}
		_ = w.WriteMsg(m)
	})
	pc, err := h.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	l, err := h.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return nil, err
	}
	udp := &dns.Server{PacketConn: pc, Handler: handler}
	tcp := &dns.Server{Listener: l, Handler: handler}
	started := make(chan struct{}, 2)
	udp.NotifyStartedFunc = func() { started <- struct{}{} }
	tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	for _, s := range []*dns.Server{udp, tcp} {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			_ = s.ActivateAndServe()
		}()
	}
	for range 2 {
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			_ = udp.Shutdown()
			_ = tcp.Shutdown()
			return nil, fmt.Errorf("testenv: DNS server on %s in %s did not start", addr, h.Name)
		}
	}
	return h.track(&Server{Addr: l.Addr(), close: func() error {
		return errors.Join(udp.Shutdown(), tcp.Shutdown())
	}}), nil
}
