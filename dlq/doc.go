// Package dlq owns redrive's retry bookkeeping: the envelope of Kafka headers
// that a dead-lettered or parked record carries, the retry policy that decides
// when a failed record is tried again or parked, and the wait room that holds
// dead-lettered records until they are due.
package dlq
