// Package pipeline owns redrive's goka processor: the group graph over the
// main and dead-letter topics, the routing of each record (sink, enrichment,
// DLQ, parking), per-partition backpressure, and in-order commit tracking.
package pipeline
