// Package enrich owns redrive's HTTP enrichment: the client that sends a
// record to the enrichment API behind a circuit breaker, a concurrency bound
// and in-line retries; the error classes (transient or permanent) that the
// rest of redrive obeys; and the rule that decides which records need it.
package enrich
