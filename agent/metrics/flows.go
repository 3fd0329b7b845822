package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// FlowTableStats is the size of the agent's flow table.
type FlowTableStats struct {
	Active int // flows in the table
	Limit  int // maximum number of flows (0 when unbounded)
}

// FlowTableSource reports the size of the flow table. It is called at every
// scrape and must be cheap (an atomic load or a short lock).
type FlowTableSource interface {
	FlowTableStats() FlowTableStats
}

type flowSourceBox struct{ FlowTableSource }

// flowMetrics holds the flow counters and exports the table's size.
type flowMetrics struct {
	created [numProtoClasses]prometheus.Counter
	evicted [numEvictReasons]prometheus.Counter
	source  atomic.Pointer[flowSourceBox]

	createdVec, evictedVec *prometheus.CounterVec
	active, limit          *prometheus.Desc
}

func newFlowMetrics() *flowMetrics {
	f := &flowMetrics{
		createdVec: counterVec(nameFlowsCreated),
		evictedVec: counterVec(nameFlowsEvicted),
		active:     desc(nameFlowsActive),
		limit:      desc(nameFlowsLimit),
	}
	for i := range f.created {
		f.created[i] = f.createdVec.WithLabelValues(protoNames[i])
	}
	for i := range f.evicted {
		f.evicted[i] = f.evictedVec.WithLabelValues(EvictReason(i).String())
	}
	return f
}

func (f *flowMetrics) Describe(ch chan<- *prometheus.Desc) {
	f.createdVec.Describe(ch)
	f.evictedVec.Describe(ch)
	ch <- f.active
	ch <- f.limit
}

func (f *flowMetrics) Collect(ch chan<- prometheus.Metric) {
	f.createdVec.Collect(ch)
	f.evictedVec.Collect(ch)
	box := f.source.Load()
	if box == nil {
		return
	}
	st := box.FlowTableStats()
	ch <- prometheus.MustNewConstMetric(f.active, prometheus.GaugeValue, float64(st.Active))
	if st.Limit > 0 {
		ch <- prometheus.MustNewConstMetric(f.limit, prometheus.GaugeValue, float64(st.Limit))
	}
}
