package redrive_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/IBM/sarama"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/enrich/mockapi"
	"github.com/redrive-io/redrive/internal/testenv"
	"github.com/redrive-io/redrive/pipeline"
	"github.com/redrive-io/redrive/sinks"
)

// origin identifies an input record by where it first arrived.
type origin struct {
	Topic     string
	Partition int32
	Offset    int64
}

// outputRecord is one line of an S3 object, as downstream would read it.
type outputRecord struct {
	ID       int             `json:"id"`
	Category string          `json:"category"`
	Enriched json.RawMessage `json:"enrichment"`
	Meta     pipeline.Meta   `json:"_redrive"`
}

// produced is what the test wrote, by origin.
type produced map[origin]testRecord

type testRecord struct {
	Key   string
	Value []byte
}

// newAdmin returns a cluster admin of brokers; the caller closes it.
func newAdmin(t testing.TB, brokers []string) sarama.ClusterAdmin {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(brokers, testSaramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	return admin
}

// testSaramaConfig is the client config of the tests' own producers,
// readers and admins: a protocol version Kafka 4 still speaks, acks=all.
func testSaramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	return cfg
}

// produce writes records to topic with a sync producer (hash partitioner)
// and returns their origins.
func produce(t testing.TB, brokers []string, topic string, recs []testRecord) produced {
	t.Helper()
	cfg := testSaramaConfig()
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	defer p.Close()
	out := produced{}
	const chunk = 500
	for i := 0; i < len(recs); i += chunk {
		var msgs []*sarama.ProducerMessage
		for _, r := range recs[i:min(i+chunk, len(recs))] {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(r.Key), Value: sarama.ByteEncoder(r.Value)})
		}
		if err := p.SendMessages(msgs); err != nil {
			t.Fatalf("producing: %v", err)
		}
		for j, m := range msgs {
			out[origin{topic, m.Partition, m.Offset}] = recs[i+j]
		}
	}
	return out
}

// sampleRecords makes n JSON records; every third has category X (needs
// enrichment) and every bad-th one (if bad > 0) is not JSON.
func sampleRecords(n, bad int) []testRecord {
	recs := make([]testRecord, n)
	for i := range recs {
		cat := "Y"
		if i%10 < 3 {
			cat = "X"
		}
		v := fmt.Sprintf(`{"id":%d,"category":%q,"payload":"record %d"}`, i, cat, i)
		if bad > 0 && i%bad == bad-1 {
			v = fmt.Sprintf(`not json %d`, i)
		}
		recs[i] = testRecord{Key: fmt.Sprintf("key-%d", i%97), Value: []byte(v)}
	}
	return recs
}

// readS3 returns every output record in the bucket, by origin, with the
// number of times each origin appears.
func readS3(t testing.TB, client *s3.Client, bucket string) (map[origin]int, []outputRecord) {
	t.Helper()
	counts := map[origin]int{}
	var all []outputRecord
	err := sinks.ReadRecords(context.Background(), client, bucket, "", func(_ string, r outputRecord) error {
		counts[origin{r.Meta.Topic, r.Meta.Partition, r.Meta.Offset}]++
		all = append(all, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return counts, all
}

// topicRecord is a record read back from a topic with its envelope.
type topicRecord struct {
	Partition int32
	Offset    int64
	Key       string
	Value     []byte
	Env       dlq.Envelope
	EnvErr    error
}

// readTopic reads every record of a topic up to its current end, without a
// consumer group.
func readTopic(t testing.TB, brokers []string, topic string) []topicRecord {
	t.Helper()
	msgs, err := testenv.ReadTopic(brokers, testSaramaConfig(), topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]topicRecord, len(msgs))
	for i, m := range msgs {
		hs := make([]dlq.Header, len(m.Headers))
		for j, h := range m.Headers {
			hs[j] = dlq.Header{Key: string(h.Key), Value: h.Value}
		}
		env, envErr := dlq.ParseHeaders(hs)
		out[i] = topicRecord{Partition: m.Partition, Offset: m.Offset, Key: string(m.Key), Value: m.Value, Env: env, EnvErr: envErr}
	}
	return out
}

// startAPI serves a mock enrichment API on loopback.
func startAPI(t testing.TB, cfg mockapi.Config) (*mockapi.Server, string) {
	t.Helper()
	api := mockapi.New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); api.Serve(ctx, ln) }() //nolint:errcheck
	t.Cleanup(func() { cancel(); wg.Wait() })
	return api, "http://" + ln.Addr().String() + "/enrich"
}

// s3Client connects the real AWS SDK client to an S3 endpoint.
func s3Client(t testing.TB, endpoint, access, secret string) *s3.Client {
	t.Helper()
	c, err := sinks.NewS3Client(context.Background(), sinks.S3ClientConfig{
		Endpoint: endpoint, PathStyle: true, AccessKeyID: access, SecretAccessKey: secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
