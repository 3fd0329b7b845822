package netns

import (
	"context"
	"time"
)

// List is a one-shot listing (no watcher), for the CLI and tests.
func List(ctx context.Context, cfg Config) ([]Container, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	node, err := openNode(cfg.NetNS)
	if err != nil {
		return nil, err
	}
	defer node.close()
	eng := newEngineFor(cfg, node, 0)
	if _, err := eng.full(time.Now()); err != nil {
		return nil, err
	}
	return eng.containers(), ctx.Err()
}

// newEngineFor wires an engine to the node namespace node.
func newEngineFor(cfg Config, node *nodeNet, settle time.Duration) *engine {
	names := &nsResolver{dirs: cfg.NamedDirs, procRoot: cfg.ProcRoot, q: node, self: node.self, log: cfg.Logger}
	return newEngine(node, node, names, cfg.Filter, settle, cfg.Logger)
}
