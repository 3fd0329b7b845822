package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"bulkhead.dev/bulkhead/agent"
	"bulkhead.dev/bulkhead/agent/config"
)

func init() {
	register(command{
		name:    "agent",
		usage:   "[--config FILE] [--print-config] [--cpuprofile FILE] [flags]",
		summary: "run the Bulkhead agent on this node (see docs/agent.md)",
		run:     runAgent,
	})
}

// runAgent loads the configuration, starts the agent, reloads on SIGHUP and
// shuts down cleanly on SIGTERM or SIGINT (which cancel ctx).
func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("agent", stderr)
	var cf config.Flags
	cf.Register(fs)
	printConfig := fs.Bool("print-config", false, "print the effective configuration as YAML and exit")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) to this file until the agent stops")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}

	// The node's name: $NODE_NAME (the DaemonSet sets it), else the host
	// name.
	env := config.SystemEnv()
	loaded, err := config.Load(cf.Options(env))
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if *printConfig {
		b, err := loaded.YAML()
		if err != nil {
			return err
		}
		_, err = stdout.Write(b)
		return err
	}
	log := loaded.Log.NewLogger(stderr)
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(loaded.Config.MemoryLimit())
	}
	if loaded.File == "" {
		log.Info("agent: no configuration file; defaults and flags only", "looked_for", env.ConfigPath())
	} else {
		log.Info("agent: configuration", "file", loaded.File)
	}

	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()

	// The agent assembles everything: container discovery, the dataplane
	// in this network namespace, the decision path, policy, learning.
	a, err := agent.New(agent.Options{
		Config:   loaded.Config,
		Version:  version,
		Revision: buildRevision(),
		Logger:   log,
		Stdout:   stdout,
	})
	if err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		a.Close()
		return err
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			log.Info("agent: shutting down")
			if err := a.Close(); err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			log.Info("agent: stopped")
			return nil
		case <-hup:
			log.Info("agent: SIGHUP: reloading the identity file and the policy")
			if err := a.Reload(ctx); err != nil {
				log.Error("agent: reload incomplete; what failed keeps its previous version", "err", err)
			}
		}
	}
}

// buildRevision returns the VCS revision the binary was built from ("" if
// unknown).
func buildRevision() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return ""
}
