package metrics

import (
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// violationKey is the label set of one violation series.
type violationKey struct {
	group, mode string
	reason      ViolationReason
}

func (k violationKey) labels() []string { return []string{k.group, k.mode, k.reason.String()} }

// policyMetrics holds the policy metrics. Groups are bounded by maxGroups:
// past it, violations of new groups count under group "other", and the mode
// gauge of group "other" holds, per mode, the number of groups past the cap
// in that mode.
type policyMetrics struct {
	maxGroups int

	violationsVec *prometheus.CounterVec
	violations    *seriesSet[violationKey]
	rules         prometheus.Gauge
	modeVec       *prometheus.GaugeVec
	reloadsVec    *prometheus.CounterVec
	reloadOK      prometheus.Gauge
	reloadOKTime  prometheus.Gauge

	mu     sync.Mutex
	modes  map[string]string // exported groups → mode label
	folded map[string]string // groups past the cap → mode label
}

func newPolicyMetrics(maxGroups int) *policyMetrics {
	p := &policyMetrics{
		maxGroups:     maxGroups,
		violationsVec: counterVec(nameViolations),
		rules:         gauge(namePolicyRules),
		modeVec:       gaugeVec(namePolicyGroupMode),
		reloadsVec:    counterVec(namePolicyReloads),
		reloadOK:      gauge(namePolicyReloadOK),
		reloadOKTime:  gauge(namePolicyReloadOKTime),
		modes:         make(map[string]string),
		folded:        make(map[string]string),
	}
	// Each group has at most one series per mode and reason.
	limit := maxGroups * numModes * int(numViolationReasons)
	p.violations = newSeriesSet(p.violationsVec, violationKey.labels, func(k violationKey) violationKey {
		k.group = LabelOther
		return k
	}, limit, nil)
	p.reloadsVec.WithLabelValues("success")
	p.reloadsVec.WithLabelValues("failure")
	return p
}

func (p *policyMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{p.violationsVec, p.rules, p.modeVec, p.reloadsVec, p.reloadOK, p.reloadOKTime}
}

func (p *policyMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range p.collectors() {
		c.Describe(ch)
	}
}

func (p *policyMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range p.collectors() {
		c.Collect(ch)
	}
}

// Violation counts one flow or request that no rule allows: group is the
// policy group whose mode applied (the local endpoint's), mode the
// effective mode (learn, monitor or protect) and reason why no rule
// allowed it.
func (m *Metrics) Violation(group, mode string, reason ViolationReason) {
	m.policy.violations.get(violationKey{group: groupLabel(group), mode: modeLabel(mode), reason: min(reason, numViolationReasons)}).Inc()
}

// PolicyLoaded records a policy load or reload that succeeded: the number
// of allow rules now in force and the mode of every group. It replaces the
// previous modes.
func (m *Metrics) PolicyLoaded(rules int, modes map[string]string) {
	p := m.policy
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules.Set(float64(rules))
	clear(p.modes)
	clear(p.folded)
	p.modeVec.Reset()
	groups := make([]string, 0, len(modes))
	for g := range modes {
		groups = append(groups, g)
	}
	slices.Sort(groups) // the groups past the cap are the same on every load
	for _, g := range groups {
		p.setModeLocked(groupLabel(g), modeLabel(modes[g]))
	}
	p.exportFoldedLocked()
	p.reloadsVec.WithLabelValues("success").Inc()
	p.reloadOK.Set(1)
	p.reloadOKTime.Set(float64(m.now().UnixNano()) / 1e9)
}

// PolicyLoadFailed records a policy load or reload that failed (the
// previous policy, if any, stays in force).
func (m *Metrics) PolicyLoadFailed() {
	m.policy.reloadsVec.WithLabelValues("failure").Inc()
	m.policy.reloadOK.Set(0)
}

// SetGroupMode records a change of one group's mode (through the API or
// auto-promotion).
func (m *Metrics) SetGroupMode(group, mode string) {
	p := m.policy
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setModeLocked(groupLabel(group), modeLabel(mode))
	p.exportFoldedLocked()
}

func (p *policyMetrics) setModeLocked(group, mode string) {
	if old, ok := p.modes[group]; ok {
		if old != mode {
			p.modeVec.DeleteLabelValues(group, old)
			p.modes[group] = mode
			p.modeVec.WithLabelValues(group, mode).Set(1)
		}
		return
	}
	if _, ok := p.folded[group]; ok || len(p.modes) >= p.maxGroups {
		p.folded[group] = mode
		return
	}
	p.modes[group] = mode
	p.modeVec.WithLabelValues(group, mode).Set(1)
}

// exportFoldedLocked sets the "other" series of the mode gauge to the
// number of groups past the cap in each mode.
func (p *policyMetrics) exportFoldedLocked() {
	counts := map[string]int{}
	for _, mode := range p.folded {
		counts[mode]++
	}
	for _, mode := range modeLabels {
		if n := counts[mode]; n > 0 {
			p.modeVec.WithLabelValues(LabelOther, mode).Set(float64(n))
		} else {
			p.modeVec.DeleteLabelValues(LabelOther, mode)
		}
	}
}
