package main

import (
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
