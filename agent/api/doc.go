// Package api is the agent's HTTP/1.1 JSON API and its client.
//
// The server listens on a unix socket (default /run/bulkhead/bulkhead.sock,
// mode 0600: root only; its directory is created 0755) and optionally on a
// TCP address. It serves:
//
//	GET  /healthz                 liveness: 200 while the process serves
//	GET  /readyz                  readiness: 200 when every check passes, else 503
//	GET  /v1/status               the agent's status
//	GET  /v1/workloads            local workloads and their identities
//	GET  /v1/flows                recent flows; filters src, dst, workload, app, verdict, port, limit
//	GET  /v1/graph                the learned communication graph (JSON)
//	GET  /v1/policy               the policy in force, with its source files
//	POST /v1/policy/reload        reload the policy; 422 with the error if it is invalid
//	GET  /v1/modes                every group's mode
//	PUT  /v1/modes/{group}        set a group's mode: {"mode":"protect"}; 404 for an unknown group
//	GET  /v1/events               recent events (NDJSON); ?follow=1 streams new ones
//
// Errors are JSON objects {"error": "..."} with a 4xx or 5xx status. The
// server calls a Backend (the agent) and never acts on its own; tests use a
// fake backend. Client is what the CLI uses.
//
// docs/agent.md documents the API.
package api
