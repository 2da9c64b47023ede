// Package sinks owns redrive's S3 batch sink: it batches output lines per input
// topic-partition, compresses and uploads each batch as one object (to S3, or to a
// local directory for the demo), retries uploads, and reports which records are durable.
//
// # Object layout (a public contract for downstream analytics)
//
// Every sealed batch becomes exactly one object under the key
//
//	PREFIX/dt=YYYY-MM-DD/hr=HH/TOPIC-PARTITION-FIRSTOFFSET-LASTOFFSET.jsonl.gz
//
// where the parts mean:
//
//   - PREFIX is Config.Prefix without leading or trailing slashes; when it is empty the
//     key starts at "dt=" (no leading slash).
//   - dt and hr are the UTC date and hour of the batch's time bucket: the hour (or,
//     with PartitionLayout "daily", the day, and then there is no hr= folder) that
//     holds the Item.Time of every line in it, so a batch never mixes two buckets.
//     The pipeline sets Item.Time from the record's Kafka timestamp or a field of
//     the record (event time); items without a time (the "processing" mode) are
//     dated by the hour at which their batch received its first line, as before.
//     They are Hive-style partitions, so Athena, Spark and Glue can prune by them.
//   - TOPIC and PARTITION are the input topic-partition the lines were read from (the
//     main topic or the DLQ topic); FIRSTOFFSET and LASTOFFSET are the smallest and
//     largest input offsets in the batch, in plain decimal. Offsets of one batch need
//     not be contiguous (enrichment completes out of order, so the ranges of two
//     batches may interleave), but each offset is in one batch only, unless the
//     record was read again after a crash or rebalance.
//   - The suffix is ".jsonl.gz" (gzip, the default), ".jsonl.zst" (zstd) or ".jsonl"
//     (Compression "none").
//     The body is newline-delimited JSON, one line per record, in the order added.
//     A gzip object has Content-Type application/gzip and no Content-Encoding.
//
// A batch that is replayed after a crash or rebalance with the same offsets gets the
// same name (and overwrites the earlier copy when it also falls in the same hour,
// which with event time it does, since its lines' times have not changed);
// otherwise its offset range overlaps an earlier object's range of the same
// topic-partition, and the origin coordinates inside every line identify duplicates.
// Topic names may contain '-', so parse the last three dash-separated fields of the
// file name as PARTITION, FIRSTOFFSET and LASTOFFSET.
package sinks
