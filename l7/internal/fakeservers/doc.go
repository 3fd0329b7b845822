// Package fakeservers holds minimal servers for the protocols that have no
// server in Debian, used only by the capture makers of l7
// (l7/captures_apps_test.go) so that real client libraries (the MongoDB Go
// driver, gocql, go-mssqldb) can be recorded talking their protocol. Each
// server answers just enough of the protocol for the client's handshake and
// a few commands; none is meant for anything else.
package fakeservers

import (
	"errors"
	"net"
	"sync"
)

// serve accepts connections on ln and runs handle for each until ln is
// closed; it returns when every handler has returned.
func serve(ln net.Listener, handle func(net.Conn)) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			handle(c)
		}()
	}
}
