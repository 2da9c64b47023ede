package sinks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// newFakeS3 starts an in-process S3 (gofakes3, in memory) on loopback and returns a
// real aws-sdk-go-v2 client for it built by NewS3Client, with path-style addressing
// and static credentials. customHTTP passes an *http.Client of the test's own;
// otherwise the SDK builds its own client.
func newFakeS3(t *testing.T, customHTTP bool) (*s3.Client, string) {
	t.Helper()
	// Keep a developer's ~/.aws out of the test; the client gets static credentials.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	faker := gofakes3.New(s3mem.New())
	srv := httptest.NewServer(faker.Server()) // binds 127.0.0.1:0
	t.Cleanup(srv.Close)
	cfg := S3ClientConfig{
		Endpoint:        srv.URL,
		PathStyle:       true,
		AccessKeyID:     "test",
		SecretAccessKey: "test-secret",
	}
	if customHTTP {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	client, err := NewS3Client(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewS3Client: %v", err)
	}
	return client, srv.URL
}

// newFakeBucket starts a fake S3 as newFakeS3 does, with a client of the
// test's own, and creates bucket in it.
func newFakeBucket(t *testing.T, bucket string) *s3.Client {
	t.Helper()
	client, _ := newFakeS3(t, true)
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", bucket, err)
	}
	return client
}

// TestS3StoreEndToEnd proves the S3 store through the real SDK over HTTP: Check
// passes on an existing bucket, the Batcher's objects are listed under the
// documented keys, and one read back holds the exact lines, labelled
// application/gzip without Content-Encoding.
func TestS3StoreEndToEnd(t *testing.T) {
	ctx := context.Background()
	const bucket = "redrive-test"
	client := newFakeBucket(t, bucket)
	store := NewS3Store(client, bucket, Encryption{})
	if err := store.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if store.String() != "s3://"+bucket {
		t.Fatalf("String = %q", store.String())
	}
	cfg := testConfig()
	cfg.Prefix = "raw/"
	cfg.MaxRecords = 3
	b, err := NewBatcher(cfg, store, WithClock(func() time.Time { return t0 }))
	if err != nil {
		t.Fatal(err)
	}
	d := newDoneLog()
	for off := range int64(5) {
		b.Add(d.item("events", 2, off))
	}
	if err := b.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for off := range int64(5) {
		d.requireOnce(t, "events", 2, off, nil)
	}

	list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("raw/")})
	if err != nil {
		t.Fatalf("ListObjectsV2: %v", err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	want := []string{"raw/dt=2026-05-06/hr=07/events-2-0-2.jsonl.gz", "raw/dt=2026-05-06/hr=07/events-2-3-4.jsonl.gz"}
	if strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Fatalf("keys = %v, want %v", keys, want)
	}
	got, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(want[0])})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	defer got.Body.Close()
	body, err := io.ReadAll(got.Body)
	if err != nil {
		t.Fatal(err)
	}
	wantLines := []string{`{"id":"events/2@0"}`, `{"id":"events/2@1"}`, `{"id":"events/2@2"}`}
	if l := lines(t, body, true); strings.Join(l, "|") != strings.Join(wantLines, "|") {
		t.Fatalf("object lines = %q, want %q", l, wantLines)
	}
	if ct := aws.ToString(got.ContentType); ct != contentTypeGzip {
		t.Fatalf("Content-Type = %q, want %q", ct, contentTypeGzip)
	}
	if ce := aws.ToString(got.ContentEncoding); ce != "" {
		t.Fatalf("Content-Encoding = %q, want none", ce)
	}
}

// TestS3StoreCheckMissingBucket proves Check on a bucket that does not exist fails
// with an error naming the bucket and the endpoint, and that a Put to it fails (so
// the Batcher would retry rather than report it durable).
func TestS3StoreCheckMissingBucket(t *testing.T) {
	client, endpoint := newFakeS3(t, false)
	store := NewS3Store(client, "no-such-bucket", Encryption{})
	err := store.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), `"no-such-bucket"`) || !strings.Contains(err.Error(), endpoint) {
		t.Fatalf("Check = %v, want an error naming the bucket and %s", err, endpoint)
	}
	if !Permanent(err) {
		t.Fatalf("a missing bucket is not Permanent (start-up would wait for it forever): %v", err)
	}
	if err := store.Put(context.Background(), "k.jsonl", []byte("x\n"), contentTypeNDJSON, ""); err == nil {
		t.Fatal("Put to a missing bucket succeeded")
	}
}

// TestS3StorePutHonoursContext proves a Put whose context has ended fails with that
// context's error, which is how a flush or Close stops an upload.
func TestS3StorePutHonoursContext(t *testing.T) {
	client, _ := newFakeS3(t, false)
	store := NewS3Store(client, "any", Encryption{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := store.Put(ctx, "k.jsonl", []byte("x\n"), contentTypeNDJSON, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v, want context.Canceled", err)
	}
}

// Permanent tells a refused configuration (missing bucket, refused
// credentials) from an S3 that did not answer or failed on its side; the
// first ends start-up, the second is waited for.
func TestPermanent(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{statusErr(404), true}, {statusErr(403), true}, {fmt.Errorf("check: %w", statusErr(400)), true},
		{statusErr(503), false}, {statusErr(500), false}, {statusErr(429), false}, {statusErr(408), false},
		{errors.New("dial tcp 127.0.0.1:9000: connect: connection refused"), false},
		{context.DeadlineExceeded, false},
	} {
		if got := Permanent(tc.err); got != tc.want {
			t.Errorf("Permanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

type statusErr int

func (e statusErr) Error() string       { return fmt.Sprintf("status %d", int(e)) }
func (e statusErr) HTTPStatusCode() int { return int(e) }
