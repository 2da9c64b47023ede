// Package mockapi owns a mock enrichment API for redrive's demo, tests and
// benchmarks: deterministic answers, seeded error rates, latency, outage
// windows and a manual outage switch, with served-request statistics.
package mockapi
