package deploy

import "embed"

// FS holds the Grafana dashboards (grafana/dashboards/*.json) and the
// Prometheus rules and their unit tests (prometheus/*.yaml), at those paths.
//
//go:embed grafana/dashboards/*.json prometheus/*.yaml
var FS embed.FS

// Paths of the embedded files.
const (
	DashboardsDir  = "grafana/dashboards"
	AlertRulesFile = "prometheus/bulkhead-alerts.yaml"
)
