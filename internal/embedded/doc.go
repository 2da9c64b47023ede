// Package embedded runs in-process stand-ins for Kafka (franz-go's kfake,
// which speaks the real Kafka protocol) and S3 (gofakes3 over loopback HTTP,
// so the real AWS SDK is exercised), for `redrive demo` and the fast tests.
package embedded
