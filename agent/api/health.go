package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Healthz answers liveness probes: 200 "ok" while the process serves.
func Healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// ReadyzHandler answers readiness probes: 200 when every check passes, 503
// otherwise, with one line per check ("[+]policy ok", "[-]dataplane not
// attached: ...").
func ReadyzHandler(ready func(context.Context) []Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		checks := ready(r.Context())
		var b strings.Builder
		ok := true
		for _, c := range checks {
			mark := "+"
			if !c.OK {
				mark, ok = "-", false
			}
			fmt.Fprintf(&b, "[%s]%s", mark, c.Name)
			if c.Detail != "" {
				fmt.Fprintf(&b, ": %s", c.Detail)
			}
			b.WriteByte('\n')
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			b.WriteString("not ready\n")
		} else {
			b.WriteString("ready\n")
		}
		w.Write([]byte(b.String()))
	})
}

// MetricsHandler serves /metrics with metrics (e.g. the agent metrics'
// Handler), /healthz and /readyz: what the agent's metrics address answers.
func MetricsHandler(metrics http.Handler, ready func(context.Context) []Check) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", Healthz)
	mux.Handle("GET /readyz", ReadyzHandler(ready))
	return mux
}
