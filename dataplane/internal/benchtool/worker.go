package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// workerResult is what a load generator prints.
type workerResult struct {
	Ops     uint64  `json:"ops"`     // completed connections, round trips or datagrams sent
	Errors  uint64  `json:"errors"`  // failed operations
	First   string  `json:"first"`   // the first failure, when there is one
	Seconds float64 `json:"seconds"` // measured time
}

// failures counts failed operations and keeps the first error, so that a
// failing run says what failed.
type failures struct {
	n     atomic.Uint64
	once  sync.Once
	first string
}

func (f *failures) add(what string, err error) {
	f.n.Add(1)
	f.once.Do(func() { f.first = what + ": " + err.Error() })
}

// runWorker runs a load generator in the calling process's namespace for
// dur and prints its result as JSON on stdout.
func runWorker(kind, addr string, dur time.Duration, conc, size int) error {
	if addr == "" || dur <= 0 || conc < 1 {
		return fmt.Errorf("worker %s: need -addr, -duration and -concurrency ≥ 1", kind)
	}
	var fn func(deadline time.Time, ops *atomic.Uint64, errs *failures)
	switch kind {
	case "crr":
		fn = func(deadline time.Time, ops *atomic.Uint64, errs *failures) { crr(addr, deadline, ops, errs) }
	case "rr":
		fn = func(deadline time.Time, ops *atomic.Uint64, errs *failures) { rr(addr, deadline, ops, errs) }
	case "udp":
		fn = func(deadline time.Time, ops *atomic.Uint64, errs *failures) {
			udpFlood(addr, size, deadline, ops, errs)
		}
	default:
		return fmt.Errorf("unknown worker %q (want crr, rr or udp)", kind)
	}
	var ops atomic.Uint64
	var errs failures
	start := time.Now()
	deadline := start.Add(dur)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(deadline, &ops, &errs)
		}()
	}
	wg.Wait()
	return json.NewEncoder(os.Stdout).Encode(workerResult{Ops: ops.Load(), Errors: errs.n.Load(), First: errs.first, Seconds: time.Since(start).Seconds()})
}

// crr opens a connection, sends one byte, reads the answer and closes, in
// a loop: TCP connections per second.
func crr(addr string, deadline time.Time, ops *atomic.Uint64, errs *failures) {
	b := []byte{'x'}
	d := net.Dialer{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			errs.add("dial", err)
			continue
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write(b); err == nil {
			_, err = io.ReadFull(c, b)
			if err == nil {
				ops.Add(1)
			} else {
				errs.add("read", err)
			}
		} else {
			errs.add("write", err)
		}
		c.Close()
	}
}

// rr sends one byte and waits for the answer on one connection, in a loop:
// the request/response round trip.
func rr(addr string, deadline time.Time, ops *atomic.Uint64, errs *failures) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		errs.add("dial", err)
		return
	}
	defer c.Close()
	b := []byte{'x'}
	var n uint64
	for time.Now().Before(deadline) {
		if _, err := c.Write(b); err != nil {
			errs.add("write", err)
			return
		}
		if _, err := io.ReadFull(c, b); err != nil {
			errs.add("read", err)
			return
		}
		n++
	}
	ops.Add(n)
}

// udpFlood sends size-byte datagrams as fast as it can.
func udpFlood(addr string, size int, deadline time.Time, ops *atomic.Uint64, errs *failures) {
	c, err := net.Dial("udp", addr)
	if err != nil {
		errs.add("dial", err)
		return
	}
	defer c.Close()
	b := make([]byte, size)
	var n uint64
	for i := 0; ; i++ {
		if i%256 == 0 && !time.Now().Before(deadline) {
			break
		}
		if _, err := c.Write(b); err != nil {
			errs.add("write", err)
			continue
		}
		n++
	}
	ops.Add(n)
}
