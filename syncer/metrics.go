package syncer

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the synchronisation's Prometheus metrics, labelled by
// merchant id and channel code.
type Metrics struct {
	Pushes   *prometheus.CounterVec
	Failures *prometheus.CounterVec
	Retries  *prometheus.CounterVec
	Drift    *prometheus.CounterVec
	// Lag is the time from a change to the confirmed publication of the
	// quantity it changed.
	Lag *prometheus.HistogramVec
}

// NewMetrics creates the metrics and registers them with reg (nil: kept
// unregistered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	labels := []string{"merchant", "channel"}
	m := &Metrics{
		Pushes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "allot_pushes_total",
			Help: "Quantities pushed to a channel and confirmed by it."}, labels),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "allot_push_failures_total",
			Help: "Calls to a channel that failed, or quantities it refused."}, labels),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "allot_push_retries_total",
			Help: "Quantities put off for a retry after a failure."}, labels),
		Drift: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "allot_drift_mended_total",
			Help: "Quantities a channel showed other than the last publication, and that allot pushed again."}, labels),
		Lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "allot_push_lag_seconds",
			Help:    "Time from a change to the confirmed publication of the quantity it changed.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800}}, labels),
	}
	if reg != nil {
		reg.MustRegister(m.Pushes, m.Failures, m.Retries, m.Drift, m.Lag)
	}
	return m
}

func (m *Metrics) label(merchant int64, channel string) []string {
	return []string{strconv.FormatInt(merchant, 10), channel}
}
