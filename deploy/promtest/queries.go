package promtest

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"bulkhead.dev/bulkhead/deploy"
)

// Query is one PromQL expression found in a dashboard or a rules file.
type Query struct {
	// Origin names where the expression is, for messages:
	// `bulkhead-flows.json panel 9 "Flow map" target edges` or
	// `bulkhead-alerts.yaml alert BulkheadFailOpen`.
	Origin string
	// File is the file's path in deploy.FS.
	File string
	// Dashboard fields: the panel and target.
	PanelID    int
	PanelTitle string
	PanelType  string
	RefID      string
	Instant    bool // an instant query (Grafana "instant": true)
	// Rule fields: the alert or recording rule's name.
	Alert  string
	Record string
	// Expr is the expression as written, Grafana variables included.
	Expr string
}

// IsRule reports whether the query comes from a rules file.
func (q Query) IsRule() bool { return q.Alert != "" || q.Record != "" }

// Dashboard is the part of a Grafana dashboard the tests read.
type Dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []Panel `json:"panels"`
	Templating struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// Panel is a dashboard panel; rows hold nested panels when collapsed.
type Panel struct {
	ID              int              `json:"id"`
	Type            string           `json:"type"`
	Title           string           `json:"title"`
	GridPos         GridPos          `json:"gridPos"`
	Targets         []Target         `json:"targets"`
	Panels          []Panel          `json:"panels"`
	Transformations []Transformation `json:"transformations"`
}

// GridPos is a panel's place on the dashboard's 24-column grid.
type GridPos struct {
	X int `json:"x"`
	Y int `json:"y"`
	W int `json:"w"`
	H int `json:"h"`
}

// Target is a panel's query.
type Target struct {
	RefID   string `json:"refId"`
	Expr    string `json:"expr"`
	Instant bool   `json:"instant"`
	Format  string `json:"format"`
}

// Transformation is a Grafana data transformation of a panel.
type Transformation struct {
	ID      string         `json:"id"`
	Options map[string]any `json:"options"`
}

// Variable is a dashboard template variable.
type Variable struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Query any    `json:"query"`
}

// AllPanels returns the dashboard's panels, rows' nested panels included,
// in order.
func (d *Dashboard) AllPanels() []Panel {
	var out []Panel
	var walk func([]Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// LoadDashboard decodes the dashboard at name in fsys.
func LoadDashboard(fsys fs.FS, name string) (*Dashboard, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("promtest: read dashboard: %w", err)
	}
	var d Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("promtest: decode dashboard %s: %w", name, err)
	}
	return &d, nil
}

// DashboardFiles returns the paths of the dashboards in fsys, sorted.
func DashboardFiles(fsys fs.FS) ([]string, error) {
	names, err := fs.Glob(fsys, deploy.DashboardsDir+"/*.json")
	if err != nil {
		return nil, fmt.Errorf("promtest: list dashboards: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("promtest: no dashboard in %s", deploy.DashboardsDir)
	}
	slices.Sort(names)
	return names, nil
}

// DashboardQueries returns every query of every dashboard in fsys, in
// dashboard, panel and target order.
func DashboardQueries(fsys fs.FS) ([]Query, error) {
	names, err := DashboardFiles(fsys)
	if err != nil {
		return nil, err
	}
	var out []Query
	for _, name := range names {
		d, err := LoadDashboard(fsys, name)
		if err != nil {
			return nil, err
		}
		for _, v := range d.Templating.List {
			q, ok, err := variableQuery(v)
			if err != nil {
				return nil, fmt.Errorf("promtest: %s: %w", name, err)
			}
			if ok {
				q.Origin = fmt.Sprintf("%s variable %s", path.Base(name), v.Name)
				q.File = name
				out = append(out, q)
			}
		}
		for _, p := range d.AllPanels() {
			for _, t := range p.Targets {
				out = append(out, Query{
					Origin:     fmt.Sprintf("%s panel %d %q target %s", path.Base(name), p.ID, p.Title, t.RefID),
					File:       name,
					PanelID:    p.ID,
					PanelTitle: p.Title,
					PanelType:  p.Type,
					RefID:      t.RefID,
					Instant:    t.Instant,
					Expr:       t.Expr,
				})
			}
		}
	}
	return out, nil
}

// labelValues matches Grafana's label_values(selector, label) variable
// query.
var labelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)

// variableQuery turns a dashboard's query variable into the PromQL that
// returns its values: label_values(SEL, LABEL) becomes
// count by (LABEL) (SEL). ok is false for other kinds of variables.
func variableQuery(v Variable) (q Query, ok bool, err error) {
	if v.Type != "query" {
		return Query{}, false, nil
	}
	text, _ := v.Query.(string)
	if m, isMap := v.Query.(map[string]any); isMap {
		text, _ = m["query"].(string)
	}
	sub := labelValues.FindStringSubmatch(text)
	if sub == nil {
		return Query{}, false, fmt.Errorf("variable %s: query %q: want label_values(selector, label)", v.Name, text)
	}
	return Query{PanelType: "variable", RefID: v.Name, Instant: true, Expr: fmt.Sprintf("count by (%s) (%s)", sub[2], sub[1])}, true, nil
}

// RuleFile is a Prometheus rules file.
type RuleFile struct {
	Groups []RuleGroup `json:"groups"`
}

// RuleGroup is a group of rules.
type RuleGroup struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Rules    []Rule `json:"rules"`
}

// Rule is an alerting or recording rule.
type Rule struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// LoadRules decodes the rules file at name in fsys strictly: an unknown
// field is an error.
func LoadRules(fsys fs.FS, name string) (*RuleFile, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("promtest: read rules: %w", err)
	}
	var f RuleFile
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		return nil, fmt.Errorf("promtest: decode rules %s: %w", name, err)
	}
	return &f, nil
}

// RuleQueries returns the expression of every rule in the alert rules file
// of fsys.
func RuleQueries(fsys fs.FS) ([]Query, error) {
	f, err := LoadRules(fsys, deploy.AlertRulesFile)
	if err != nil {
		return nil, err
	}
	var out []Query
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			q := Query{File: deploy.AlertRulesFile, Alert: r.Alert, Record: r.Record, Expr: r.Expr, Instant: true}
			if r.Alert != "" {
				q.Origin = fmt.Sprintf("%s alert %s", path.Base(deploy.AlertRulesFile), r.Alert)
			} else {
				q.Origin = fmt.Sprintf("%s record %s", path.Base(deploy.AlertRulesFile), r.Record)
			}
			out = append(out, q)
		}
	}
	return out, nil
}

// AllQueries returns the dashboards' queries followed by the rules'.
func AllQueries(fsys fs.FS) ([]Query, error) {
	dq, err := DashboardQueries(fsys)
	if err != nil {
		return nil, err
	}
	rq, err := RuleQueries(fsys)
	if err != nil {
		return nil, err
	}
	return append(dq, rq...), nil
}

// Vars returns the values Expand gives Grafana's variables for a test
// against a Prometheus that scrapes every second under job: every node and
// group, rate windows of 10 s and a dashboard range of one minute.
func Vars(job string) map[string]string {
	return map[string]string{
		"__rate_interval": "10s",
		"__interval":      "1s",
		"__range":         "1m",
		"job":             job,
		"instance":        ".*",
		"group":           ".*",
	}
}

// grafanaVar matches Grafana's variable syntaxes: $name, ${name},
// ${name:format} and [[name]].
var grafanaVar = regexp.MustCompile(`\$(\w+)|\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::\w+)?\]\]`)

var digits = regexp.MustCompile(`^[0-9]+$`)

// Expand replaces the Grafana variables of expr with their values in vars.
// A variable named only by digits ($1) is a regular-expression reference
// of label_replace, which Grafana leaves alone too. A variable vars does not
// define is an error naming it.
func Expand(expr string, vars map[string]string) (string, error) {
	var missing []string
	out := grafanaVar.ReplaceAllStringFunc(expr, func(m string) string {
		sub := grafanaVar.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		if digits.MatchString(name) {
			return m
		}
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("promtest: expand %q: undefined variable %s", expr, strings.Join(missing, ", "))
	}
	return out, nil
}
