package sinks

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"
)

// ReadRecords decodes every line of every object, gzip or plain, in
// listing and line order, hands on fn's error, and names the object and
// line of a line that is not JSON.
func TestReadRecords(t *testing.T) {
	const bucket = "redrive-read-records"
	client := newFakeBucket(t, bucket)
	ctx := t.Context()
	put := func(key string, body []byte) {
		t.Helper()
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatalf("PutObject %s: %v", key, err)
		}
	}
	put("ok/a.jsonl.gz", gzipped(t, "{\"n\":1}\n{\"n\":2}\n"))
	put("ok/b.jsonl", []byte("{\"n\":3}\n"))
	put("bad/c.jsonl", []byte("{\"n\":4}\nnot json\n"))

	type rec struct{ N int }
	var got []string
	err := ReadRecords(ctx, client, bucket, "ok/", func(key string, r rec) error {
		got = append(got, fmt.Sprintf("%s:%d", key, r.N))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "ok/a.jsonl.gz:1 ok/a.jsonl.gz:2 ok/b.jsonl:3"; strings.Join(got, " ") != want {
		t.Fatalf("read %v, want %s", got, want)
	}

	stop := errors.New("enough")
	calls := 0
	err = ReadRecords(ctx, client, bucket, "ok/", func(string, rec) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("fn's error: got %v after %d calls, want it at once", err, calls)
	}

	err = ReadRecords(ctx, client, bucket, "bad/", func(string, rec) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "s3://redrive-read-records/bad/c.jsonl: line 2") {
		t.Fatalf("a line that is not JSON: got %v, want its object and line named", err)
	}
}

func gzipped(t *testing.T, text string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
