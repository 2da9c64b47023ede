package enrich

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// Option passes a collaborator to New.
type Option func(*options)

type options struct {
	httpClient *http.Client
	logger     *slog.Logger
	registerer prometheus.Registerer
}

// WithHTTPClient makes the Client send its requests with hc instead of a
// client of its own. The Client then neither sizes hc's connection pool to
// Config.Concurrency nor sets its timeout: the per-request timeout is applied
// through each request's context whatever hc is.
func WithHTTPClient(hc *http.Client) Option {
	return func(o *options) { o.httpClient = hc }
}

// WithLogger sets the logger of breaker state changes. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithRegisterer registers the Client's metrics with reg. Default: a fresh
// registry of the Client's own, never the global one. Metrics are registered
// with promauto, so one registerer holds the metrics of one Client.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(o *options) { o.registerer = reg }
}
