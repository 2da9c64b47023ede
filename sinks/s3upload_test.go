package sinks

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// putRecorder is an HTTPS S3-compatible endpoint that takes every PutObject
// and keeps the headers and body of the last one.
type putRecorder struct {
	mu     sync.Mutex
	header http.Header
	body   string
}

func (r *putRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.header, r.body = req.Header.Clone(), string(body)
	r.mu.Unlock()
	w.Header().Set("ETag", `"x"`)
}

// putThrough uploads one object through NewS3Client to an HTTPS endpoint,
// asking for enc, and returns what the endpoint received.
func putThrough(t *testing.T, enc Encryption) (http.Header, string) {
	t.Helper()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	rec := &putRecorder{}
	srv := httptest.NewTLSServer(rec)
	defer srv.Close()
	client, err := NewS3Client(context.Background(), S3ClientConfig{Endpoint: srv.URL, PathStyle: true,
		AccessKeyID: "k", SecretAccessKey: "s", HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if err := NewS3Store(client, "b", enc).Put(context.Background(), "a/b.jsonl", []byte("{\"a\":1}\n"), contentTypeNDJSON, ""); err != nil {
		t.Fatalf("Put: %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.header, rec.body
}

// Many S3-compatible stores (older MinIO and Ceph, GCS's XML API, R2 and
// B2 for a while) refuse the aws-chunked upload with a trailing CRC32 that
// aws-sdk-go-v2's S3 client sends over HTTPS by default since v1.73
// (XAmzContentSHA256Mismatch). With --s3-endpoint, uploads are a plain
// signed body unless AWS_REQUEST_CHECKSUM_CALCULATION asks otherwise.
func TestS3CompatibleEndpointGetsAPlainUpload(t *testing.T) {
	h, body := putThrough(t, Encryption{})
	if body != "{\"a\":1}\n" {
		t.Errorf("the endpoint received %q, want the object as it is", body)
	}
	for _, name := range []string{"X-Amz-Trailer", "X-Amz-Sdk-Checksum-Algorithm", "X-Amz-Checksum-Crc32", "X-Amz-Decoded-Content-Length"} {
		if v := h.Get(name); v != "" {
			t.Errorf("%s: %s sent to an S3-compatible endpoint", name, v)
		}
	}
	if v := h.Get("X-Amz-Content-Sha256"); strings.HasPrefix(v, "STREAMING-") {
		t.Errorf("X-Amz-Content-Sha256: %s, want the payload's hash", v)
	}
	if v := h.Get("Content-Encoding"); strings.Contains(v, "aws-chunked") {
		t.Errorf("Content-Encoding: %s", v)
	}

	// The SDK's own setting still wins: the check above would see the
	// trailing checksum without redrive's default.
	t.Setenv("AWS_REQUEST_CHECKSUM_CALCULATION", "when_supported")
	if h, _ := putThrough(t, Encryption{}); h.Get("X-Amz-Trailer") == "" && h.Get("X-Amz-Checksum-Crc32") == "" {
		t.Errorf("AWS_REQUEST_CHECKSUM_CALCULATION=when_supported: no checksum sent (headers %v)", h)
	}
}

// An upload asks for the server-side encryption configured, as a bucket
// policy that denies unencrypted uploads requires, and for nothing when
// none is configured.
func TestUploadsAskForTheEncryptionConfigured(t *testing.T) {
	for _, tc := range []struct {
		enc      Encryption
		sse, kms string
	}{
		{Encryption{}, "", ""},
		{Encryption{SSE: "AES256"}, "AES256", ""},
		{Encryption{SSE: "aws:kms", KMSKeyID: "arn:aws:kms:eu-west-1:1:key/k"}, "aws:kms", "arn:aws:kms:eu-west-1:1:key/k"},
	} {
		h, _ := putThrough(t, tc.enc)
		if got := h.Get("X-Amz-Server-Side-Encryption"); got != tc.sse {
			t.Errorf("%+v: x-amz-server-side-encryption %q, want %q", tc.enc, got, tc.sse)
		}
		if got := h.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"); got != tc.kms {
			t.Errorf("%+v: KMS key %q, want %q", tc.enc, got, tc.kms)
		}
	}
	for enc, want := range map[Encryption]string{
		{SSE: "aes256"}:                "s3-sse: ",
		{KMSKeyID: "k"}:                "s3-sse-kms-key-id: ",
		{SSE: "AES256", KMSKeyID: "k"}: "s3-sse-kms-key-id: ",
	} {
		if err := enc.Validate(); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%+v: %v, want an error beginning %q", enc, err, want)
		}
	}
}
