// Package promtest runs a real Prometheus (Debian's /usr/bin/prometheus)
// against one or more scrape targets and executes every PromQL expression
// of Bulkhead's Grafana dashboards and alert rules against it, reporting
// which returned data.
//
// The harness is what proves the dashboards: a query that parses but names
// a metric or label the agent does not export comes back empty. Its own
// test serves the agent's metrics registry, driven by a synthetic workload
// (agent/metrics/metricstest), on a loopback port; the agent's integration
// test points the same harness at a real agent in a testenv node:
//
//	srv, err := promtest.Start(ctx, promtest.Config{
//		Targets:   []string{"127.0.0.1:9447"},
//		RuleFiles: []string{"../../deploy/prometheus/bulkhead-alerts.yaml"},
//	})
//	if err != nil { t.Fatal(err) }
//	defer srv.Close()
//	if err := srv.WaitScrapes(ctx, 5); err != nil { t.Fatal(err) }
//	queries, err := promtest.AllQueries(deploy.FS)
//	outcomes := srv.CheckAll(ctx, queries, promtest.Vars(srv.Job))
//	t.Log(promtest.Report(outcomes))
//
// To run Prometheus inside a network namespace, set Config.Launch,
// Config.ListenAddress and Config.Client (see Config).
//
// Each server has its own configuration, storage directory and port, and is
// stopped by its PID in Close. The scrape interval defaults to 1 s:
// rate() needs two samples in its window, so WaitScrapes(ctx, n) waits for
// n scrapes of every target before the queries run, and Vars uses 10 s rate
// windows and a 1 min dashboard range.
package promtest
