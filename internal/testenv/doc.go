// Package testenv starts real services for tests on 127.0.0.1 with free ports and throw-away folders: Apache Kafka (KRaft) through scripts/kafka.sh and an S3 server (versitygw) through scripts/s3.sh.
// The servers are children that die with the test binary (Linux parent-death signal); `scripts/kafka.sh down --dir DIR` and `scripts/s3.sh down --dir DIR` are the manual fallback.
// When a service cannot start, Unavailable fails the test under CI and elsewhere logs a banner so that the caller can fall back to an embedded service.
package testenv
