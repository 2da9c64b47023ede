package sinks

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3API is the slice of the S3 API this package calls; *s3.Client satisfies it.
//
// Uploads use a plain PutObject, not the upload manager: feature/s3/manager is marked
// deprecated in the pinned v1.23.22 (superseded by feature/s3/transfermanager), and
// multipart buys nothing here, since a batch is at most MaxBytes (1 GiB cap, 8 MiB by
// default) of uncompressed text, far below PutObject's 5 GiB limit, and is already
// held in memory.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, optFns ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
}

// s3Store writes objects to one S3 bucket.
type s3Store struct {
	client S3API
	bucket string
	enc    Encryption
}

// Encryption is the server-side encryption an upload asks for. Buckets
// whose policy denies uploads without it are common; without such a
// policy S3 encrypts with the bucket's default anyway.
type Encryption struct {
	// SSE is the x-amz-server-side-encryption header: AES256, aws:kms or
	// aws:kms:dsse; empty asks for nothing (the bucket's default).
	SSE string
	// KMSKeyID is the KMS key (ID, ARN or alias ARN) for aws:kms and
	// aws:kms:dsse; empty: the account's default key for S3.
	KMSKeyID string
}

// Validate reports a setting that cannot work, naming its flag.
func (e Encryption) Validate() error {
	switch {
	case e.SSE != "" && !slices.Contains(types.ServerSideEncryption("").Values(), types.ServerSideEncryption(e.SSE)):
		return fmt.Errorf("s3-sse: %q is not one of %v", e.SSE, types.ServerSideEncryption("").Values())
	case e.KMSKeyID != "" && !strings.HasPrefix(e.SSE, "aws:kms"):
		return fmt.Errorf("s3-sse-kms-key-id: needs --s3-sse aws:kms or aws:kms:dsse (got %q)", e.SSE)
	}
	return nil
}

// NewS3Store returns a Store that writes objects to bucket through client,
// each asking for enc.
func NewS3Store(client S3API, bucket string, enc Encryption) Store {
	return &s3Store{client: client, bucket: bucket, enc: enc}
}

// Put uploads body with one PutObject. The body is a bytes.Reader: the SDK needs a
// seekable body to sign and checksum the payload and to rewind it on its own retries,
// in particular over plain HTTP where it cannot stream a trailing checksum.
func (s *s3Store) Put(ctx context.Context, key string, body []byte, contentType, contentEncoding string) error {
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
	}
	if contentType != "" {
		in.ContentType = aws.String(contentType)
	}
	if contentEncoding != "" {
		in.ContentEncoding = aws.String(contentEncoding)
	}
	if s.enc.SSE != "" {
		in.ServerSideEncryption = types.ServerSideEncryption(s.enc.SSE)
	}
	if s.enc.KMSKeyID != "" {
		in.SSEKMSKeyId = aws.String(s.enc.KMSKeyID)
	}
	if _, err := s.client.PutObject(ctx, in); err != nil {
		return fmt.Errorf("sinks: put s3://%s/%s: %w", s.bucket, key, err)
	}
	return nil
}

// Check asks HeadBucket whether the bucket exists and the credentials may use it.
// It does not write a probe object, which would litter the analytics prefix; a
// missing write permission shows up as the first upload failing, loudly.
func (s *s3Store) Check(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		return fmt.Errorf("sinks: bucket %q at %s is missing or not accessible: %w", s.bucket, s.endpoint(), err)
	}
	return nil
}

// endpoint names the S3 endpoint for error messages when the client can tell it.
func (s *s3Store) endpoint() string {
	if c, ok := s.client.(interface{ Options() s3.Options }); ok {
		o := c.Options()
		if o.BaseEndpoint != nil && *o.BaseEndpoint != "" {
			return *o.BaseEndpoint
		}
		return "AWS S3 (region " + o.Region + ")"
	}
	return "the configured S3 endpoint"
}

// String returns "s3://bucket".
func (s *s3Store) String() string { return "s3://" + s.bucket }
