package metrics

import "github.com/prometheus/client_golang/prometheus"

// learningMetrics counts what the learned communication graph gains.
type learningMetrics struct {
	added prometheus.Counter
	edges prometheus.Gauge
}

func newLearningMetrics() *learningMetrics {
	return &learningMetrics{added: counter(nameLearningEdgesAdded), edges: gauge(nameLearningGraphEdgeCnt)}
}

func (l *learningMetrics) Describe(ch chan<- *prometheus.Desc) {
	l.added.Describe(ch)
	l.edges.Describe(ch)
}

func (l *learningMetrics) Collect(ch chan<- prometheus.Metric) {
	l.added.Collect(ch)
	l.edges.Collect(ch)
}

// EdgeLearned counts one new edge added to the learned graph (when the
// graph reports that an observation created an edge).
func (m *Metrics) EdgeLearned() { m.learning.added.Inc() }

// SetLearnedEdges sets the number of edges in the learned graph (after a
// load from the state directory, a merge or a reset).
func (m *Metrics) SetLearnedEdges(n int) { m.learning.edges.Set(float64(n)) }
