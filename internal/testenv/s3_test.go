package testenv

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// startS3 starts a server of the test's own, or reports it unavailable
// (failing under CI) and skips.
func startS3(t *testing.T) *S3 {
	t.Helper()
	start := time.Now()
	s, err := StartS3(t.Context())
	if err != nil {
		Unavailable(t, "S3", err)
		t.Skip("no real S3")
	}
	t.Logf("started versitygw in %s", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// noRetry makes a client fail at the first error, so refusals show at once.
func noRetry(o *s3.Options) { o.RetryMaxAttempts = 1 }

func putObject(t *testing.T, c *s3.Client, bucket, key string, body []byte) {
	t.Helper()
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatalf("putting %s/%s: %v", bucket, key, err)
	}
}

func getObject(ctx context.Context, c *s3.Client, bucket, key string) ([]byte, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// TestS3_PutGet_AndWrongKeysAreRefused proves the server stores and
// returns objects through aws-sdk-go-v2 (path style), and that it checks
// signatures: a wrong secret or an unknown access key is refused with the
// matching S3 error code, so tests of credential handling mean something.
func TestS3_PutGet_AndWrongKeysAreRefused(t *testing.T) {
	s := startS3(t)
	bucket := UniqueName(t, "bucket")
	if err := s.CreateBucket(t.Context(), bucket); err != nil {
		t.Fatal(err)
	}
	body := []byte("hello, real S3")
	putObject(t, s.Client(), bucket, "dir/object.txt", body)

	for _, tc := range []struct {
		name, access, secret string
		wantCodes            []string // none: the read succeeds
	}{
		{"right_keys", s.AccessKey, s.SecretKey, nil},
		{"wrong_secret", s.AccessKey, s.SecretKey + "x", []string{"SignatureDoesNotMatch"}},
		// AWS says 403 InvalidAccessKeyId; versitygw v1.8.0 says 404
		// XAdminUserNotFound. Either is a refusal.
		{"unknown_access_key", "nobody", s.SecretKey, []string{"InvalidAccessKeyId", "XAdminUserNotFound"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := s.Client(noRetry, func(o *s3.Options) {
				o.Credentials = credentials.NewStaticCredentialsProvider(tc.access, tc.secret, "")
			})
			got, err := getObject(t.Context(), c, bucket, "dir/object.txt")
			if tc.wantCodes == nil {
				if err != nil || !bytes.Equal(got, body) {
					t.Fatalf("got %q, %v; want %q", got, err, body)
				}
				return
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || !slices.Contains(tc.wantCodes, apiErr.ErrorCode()) {
				t.Fatalf("got %q, %v; want an error in %v", got, err, tc.wantCodes)
			}
		})
	}
}

// TestS3_StopStartKeepsData proves the outage helpers: after Stop the
// server refuses connections, and after Start it serves the same objects
// on the same endpoint with the same keys.
func TestS3_StopStartKeepsData(t *testing.T) {
	s := startS3(t)
	bucket := UniqueName(t, "bucket")
	if err := s.CreateBucket(t.Context(), bucket); err != nil {
		t.Fatal(err)
	}
	c := s.Client(noRetry)
	putObject(t, c, bucket, "kept", []byte("still here"))

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := getObject(ctx, c, bucket, "kept"); err == nil {
		t.Fatal("a stopped server answered")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	got, err := getObject(t.Context(), c, bucket, "kept")
	if err != nil || string(got) != "still here" {
		t.Fatalf("after Start: %q, %v; want %q", got, err, "still here")
	}
	if _, err := c.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("bucket after Start: %v", err)
	}
}
