// Command bench is redrive's benchmark suite (`make bench`): every figure is a ratio to a baseline measured in the same run on the same broker.
// It owns the workloads (pass-through, enrichment at the bound, enrichment from a lookup table, outage, backlog memory, S3 objects, rebalance pause), the subprocess measurements (CPU, RSS, goroutines) and the report: a Markdown table on stdout and JSON under bench/results/.
// The baseline consumer it compares against lives in bench/baseline, reading alone or, with -floor, also doing the work pass-through cannot avoid (JSON-object check, one compressed stream per partition): the floor; redrive itself is built from cmd/redrive and run as a subprocess.
package main
