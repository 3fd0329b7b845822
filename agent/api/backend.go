package api

import (
	"context"
	"encoding/json"
	"errors"

	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/modes"
)

// Errors a Backend wraps to choose the HTTP status.
var (
	// ErrNotFound: 404 (modes.ErrUnknownGroup is one too).
	ErrNotFound = errors.New("not found")
	// ErrInvalid: 422, e.g. a policy that fails validation.
	ErrInvalid = errors.New("invalid")
	// ErrUnavailable: 503, e.g. no learned graph yet.
	ErrUnavailable = errors.New("unavailable")
)

// Backend is what the server asks. The agent implements it; every method is
// called from the server's goroutines and must be safe for concurrent use.
type Backend interface {
	Status(ctx context.Context) (Status, error)
	// Ready returns the readiness checks (policy loaded, dataplane
	// attached…).
	Ready(ctx context.Context) []Check
	Workloads(ctx context.Context) ([]Workload, error)
	// Flows returns up to f.Limit flows matching f (f.Match), most recently
	// active first.
	Flows(ctx context.Context, f FlowFilter) ([]Flow, error)
	// Graph returns the learned graph as JSON; with verdicts, wrapped with
	// the connection counts by verdict per edge ({"graph": …, "verdicts":
	// […]}, docs/graph.md).
	Graph(ctx context.Context, verdicts bool) (json.RawMessage, error)
	Policy(ctx context.Context) (Policy, error)
	// ReloadPolicy loads the configured policy again. When it fails
	// validation the error wraps ErrInvalid and the old policy stays.
	ReloadPolicy(ctx context.Context) (PolicyInfo, error)
	Modes(ctx context.Context) ([]modes.Entry, error)
	// SetMode changes a group's mode; an unknown group is an error wrapping
	// modes.ErrUnknownGroup (or ErrNotFound).
	SetMode(ctx context.Context, group string, m modes.Mode) (modes.Entry, error)
}

// EventSource is where the server reads events (an *events.Emitter).
type EventSource interface {
	Recent(n int) []events.Event
	Subscribe(size int) *events.Subscription
}
