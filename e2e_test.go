package redrive_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redrive-io/redrive"
	"github.com/redrive-io/redrive/enrich/mockapi"
	"github.com/redrive-io/redrive/internal/wait"
	"github.com/redrive-io/redrive/pipeline"
)

// The embedded default (the one `redrive demo` runs on) loses nothing: every
// record reaches S3 or parking through kfake and gofakes3, in-process, with
// a flaky API. The real-services tests cover the same ground against Apache
// Kafka and versitygw; this one keeps the embedded path honest.
func TestE2E_EmbeddedDefault_NothingLost(t *testing.T) {
	e := embeddedEnv(t)
	api, apiURL := startAPI(t, mockapi.Config{ErrorRate: 0.2, Seed: 1})
	_ = api

	var topo redrive.Topology
	topo.Kafka.Brokers = e.brokers
	topo.Pipeline = pipeline.Config{Group: "g", InputTopic: "in", DLQTopic: "in.dlq", ParkingTopic: "in.parking"}
	topo.Pipeline.Retry.Base = 100 * time.Millisecond
	topo.Pipeline.Retry.MaxDelay = time.Second
	topo.Topics = pipeline.Topics{Create: true, Partitions: 4}
	topo.Enrich.When = `category == "X"`
	topo.Enrich.Client.URL = apiURL
	topo.Enrich.Client.BreakerOpenFor = 200 * time.Millisecond
	topo.Sink.MaxAge = 200 * time.Millisecond
	topo.S3.Bucket = e.bucket
	// The S3 and HTTP clients are injected (WithS3Client,
	// WithEnrichHTTPClient): the configured endpoint answers nothing, so
	// the run only works if the injected clients are the ones used.
	topo.S3.Client.Endpoint = "http://127.0.0.1:1"
	topo.S3.Client.PathStyle = true
	topo.S3.Client.AccessKeyID, topo.S3.Client.SecretAccessKey = "x", "y"
	topo.HTTPAddr = "127.0.0.1:0"
	client := e.client
	apiCalls := &countingTransport{base: http.DefaultTransport}

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	r, err := topo.Start(ctx, redrive.WithLogger(log), redrive.WithS3Client(client),
		redrive.WithEnrichHTTPClient(&http.Client{Transport: apiCalls}))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	want := produce(t, e.brokers, "in", sampleRecords(2000, 50))
	wait.For(t, 60*time.Second, "every record in S3 or parking", func() bool {
		counts, _ := readS3(t, client, e.bucket)
		parked := readTopic(t, e.brokers, "in.parking")
		seen := map[origin]bool{}
		for o := range counts {
			seen[o] = true
		}
		for _, p := range parked {
			seen[origin{p.Env.Origin.Topic, p.Env.Origin.Partition, p.Env.Origin.Offset}] = true
		}
		missing := 0
		for o := range want {
			if !seen[o] {
				missing++
			}
		}
		return missing == 0
	})
	checkHTTP(t, r.HTTPAddr())
	if apiCalls.n.Load() == 0 {
		t.Fatal("the injected enrichment HTTP client carried no request")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

// checkHTTP: /healthz and /readyz answer 200 on a running pipeline, and
// /metrics serves the pipeline's, enricher's and sink's series.
func checkHTTP(t *testing.T, addr string) {
	t.Helper()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(path); code != http.StatusOK {
			t.Errorf("GET %s = %d %q", path, code, body)
		}
	}
	_, metrics := get("/metrics")
	for _, name := range []string{"redrive_records_routed_total", "redrive_enrich_breaker_state", "redrive_sink_batches_total", "go_goroutines"} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// countingTransport counts the requests it carries.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}
