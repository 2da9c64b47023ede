// Package inspect owns the DLQ inspector: reading the DLQ and parking topics
// without a consumer group, filtering and counting their records, and replaying
// parked records to the input topic with a replay marker that prevents repeats.
package inspect
