package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/redrive-io/redrive"
	"github.com/redrive-io/redrive/enrich"
	"github.com/redrive-io/redrive/pipeline"
	"github.com/redrive-io/redrive/sinks"
)

// inProcess is the topology a workload's redrive child runs with its
// default settings, for a run inside this process under a profiler (the
// binary serves no pprof endpoint). The rule is set; apiURL answers it.
func (b *bench) inProcess(topic, group, prefix, apiURL string) redrive.Topology {
	return redrive.Topology{
		Kafka: pipeline.Kafka{Brokers: b.svc.Brokers},
		Pipeline: pipeline.Config{Group: group, InputTopic: topic,
			DLQTopic: topic + ".dlq", ParkingTopic: topic + ".parking"},
		Enrich: redrive.Enrichment{When: enrichRule, Client: enrich.Config{URL: apiURL}},
		S3: redrive.S3{Bucket: b.bucket, Client: sinks.S3ClientConfig{
			Endpoint: b.svc.S3.URL, Region: b.svc.S3.Region, PathStyle: true,
			AccessKeyID: b.svc.S3.AccessKey, SecretAccessKey: b.svc.S3.SecretKey}},
		Sink:     sinks.Config{Prefix: prefix},
		HTTPAddr: "off",
	}
}

// inProcessRun is what an in-process workload runs on.
type inProcessRun struct {
	topic, group, prefix string
	records              int
	enriched             float64 // the fraction of the records that need enrichment
	apiSeed              int64
	apiDown              bool // the mock API answers 503 to every request
}

// startInProcess prepares an in-process run: it makes the folder the
// profiles go to, seeds w's topic, starts the mock API and starts redrive
// on them with a discarding logger and opts (Run is the caller's to call).
// The caller closes the API.
func (b *bench) startInProcess(ctx context.Context, w inProcessRun, opts ...redrive.Option) (*redrive.Runner, *meteredAPI, error) {
	if err := os.MkdirAll(b.opts.Out, 0o755); err != nil {
		return nil, nil, err
	}
	in, err := b.seedAndServe(ctx, w.topic, w.records, w.enriched, w.apiSeed)
	if err != nil {
		return nil, nil, err
	}
	api := in.api
	api.SetDown(w.apiDown)
	opts = append([]redrive.Option{redrive.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	r, err := b.inProcess(w.topic, w.group, w.prefix, api.URL).Start(ctx, opts...)
	if err != nil {
		return nil, nil, errors.Join(err, api.Close())
	}
	return r, api, nil
}
