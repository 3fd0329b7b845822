package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/agent/events"
)

// workerPolicy adds a worker group that may call the api's health check.
const workerPolicy = shopPolicy + `    - name: worker-to-api
      from: worker
      to: api
      ports: [tcp/8080]
      app: http
      http: [{method: GET, path: /health}]
---
apiVersion: bulkhead.dev/v1alpha1
kind: Policy
metadata: {name: worker}
spec:
  groups:
    - {name: worker, selector: {matchLabels: {bulkhead.dev/workload: worker}}}
`

// TestContainerAddedRemoved: a container that appears while traffic runs is
// named, attached and enforced without a restart; when it goes, it is
// detached and forgotten; the traffic of the others never stops.
func TestContainerAddedRemoved(t *testing.T) {
	b := newBed(t)
	a := b.startAgent()
	a.loadPolicy("shop.yaml", workerPolicy)
	ctx := context.Background()

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: b.fe.DialContext}}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if err := httpGet(client, fmt.Sprintf("http://%s/users/%d", hostPort(apiIP, 8080), i)); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
			} else {
				ok.Add(1)
			}
		}
	})
	defer func() {
		close(stop)
		wg.Wait()
		if f := failed.Load(); f > 0 || ok.Load() == 0 {
			t.Errorf("frontend → api during the changes: %d ok, %d failed (first: %v)", ok.Load(), f, firstErr.Load())
		}
	}()

	worker, err := b.n.AddContainer("worker")
	if err != nil {
		t.Fatal(err)
	}
	waitWorkload := func(present bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			wl, err := a.client.Workloads(ctx)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, w := range wl {
				if w.Name == "worker" {
					found = true
					if w.Interface != worker.HostIf || strings.Join(w.Groups, ",") != "worker" || w.Mode != "protect" {
						t.Fatalf("worker workload %+v", w)
					}
				}
			}
			if found == present {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("worker present=%v in the workloads after 10 s: %+v", present, wl)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitWorkload(true)
	if !strings.Contains(b.rules(), worker.HostIf) {
		t.Errorf("no rule for the new container's veth %s", worker.HostIf)
	}

	// Enforced at once: its allowed call works, anything else is dropped
	// and reported under its name.
	if _, err := curl(worker, "http://"+hostPort(apiIP, 8080)+"/health"); err != nil {
		t.Errorf("worker → api /health: %v", err)
	}
	from := len(a.events())
	if _, err := redisCLI(worker, "PING"); err == nil {
		t.Error("worker → db answered")
	}
	e := a.waitEvent("the worker's drop", from, func(e events.Event) bool { return e.Src.Workload == "worker" })
	if e.Type != events.Drop || e.Src.Kind != "local" || e.Dst.Workload != "db" || e.Src.IP != worker.IP4 {
		t.Errorf("event %+v", e)
	}
	flows, err := a.client.Flows(ctx, api.FlowFilter{Src: "worker"})
	if err != nil || len(flows) == 0 {
		t.Errorf("flows of the worker: %+v %v", flows, err)
	}

	if err := b.n.RemoveContainer("worker"); err != nil {
		t.Fatal(err)
	}
	waitWorkload(false)
	deadline := time.Now().Add(10 * time.Second)
	for strings.Contains(b.rules(), worker.HostIf) {
		if time.Now().After(deadline) {
			t.Fatalf("rules still name %s after it went", worker.HostIf)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if flows, _ := a.client.Flows(ctx, api.FlowFilter{Src: worker.IP4.String()}); len(flows) != 0 {
		t.Errorf("flows of the removed container are still tracked: %+v", flows)
	}
}
