package main

import (
	"testing"

	"github.com/redrive-io/redrive/internal/testenv"
	"github.com/redrive-io/redrive/sinks"
)

// The real services this package's tests share, stopped by TestMain.
var (
	sharedKafka = testenv.SharedKafka(1)
	sharedS3    = testenv.SharedS3()
)

func TestMain(m *testing.M) { testenv.Main(m, sharedKafka, sharedS3) }

// The inspector against real Apache Kafka and versitygw: the same checks as
// TestDLQ_EmbeddedEndToEnd, through the real broker and S3 server.
func TestDLQ_RealKafkaEndToEnd(t *testing.T) {
	k, err := sharedKafka.Get(t.Context())
	if err != nil {
		testenv.Unavailable(t, "Kafka", err) // fails under CI
		t.Skip("real Kafka unavailable (reported above); TestDLQ_EmbeddedEndToEnd covers the embedded broker")
	}
	s, err := sharedS3.Get(t.Context())
	if err != nil {
		testenv.Unavailable(t, "S3", err)
		t.Skip("real S3 unavailable (reported above)")
	}
	bucket := testenv.UniqueName(t, "dlq")
	if err := s.CreateBucket(t.Context(), bucket); err != nil {
		t.Fatal(err)
	}
	testDLQInspector(t, dlqTestEnv{
		Brokers: k.Brokers,
		Bucket:  bucket,
		S3: sinks.S3ClientConfig{Endpoint: s.Endpoint, Region: s.Region, PathStyle: true,
			AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey},
	})
}
