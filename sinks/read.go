package sinks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// ReadAPI is the slice of the S3 API that reading batches back needs;
// *s3.Client satisfies it.
type ReadAPI interface {
	s3.ListObjectsV2APIClient
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Object is one batch object read back, its body as stored.
type Object struct {
	Key  string
	Body []byte
}

// Lines returns the object's lines, decompressed when its key ends in .gz
// or .zst (the layout this package writes); a .parquet object's rows are
// rendered as the JSON objects their JSON Lines twins would hold
// (parquetLines).
func (o Object) Lines() ([][]byte, error) {
	body := o.Body
	switch {
	case strings.HasSuffix(o.Key, ".parquet"):
		lines, err := parquetLines(body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Key, err)
		}
		return lines, nil
	case strings.HasSuffix(o.Key, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Key, err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("%s: %w", o.Key, err)
		}
	case strings.HasSuffix(o.Key, ".zst"):
		zr, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Key, err)
		}
		body, err = zr.DecodeAll(body, nil)
		zr.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Key, err)
		}
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, nil
	}
	return bytes.Split(body, []byte("\n")), nil
}

// ReadBatches calls fn with every object under prefix, in listing order:
// for the demo, tests and tools that read the output back.
func ReadBatches(ctx context.Context, c ReadAPI, bucket, prefix string, fn func(Object) error) error {
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				return fmt.Errorf("reading s3://%s/%s: %w", bucket, aws.ToString(o.Key), err)
			}
			body, err := io.ReadAll(got.Body)
			got.Body.Close()
			if err != nil {
				return fmt.Errorf("reading s3://%s/%s: %w", bucket, aws.ToString(o.Key), err)
			}
			if err := fn(Object{Key: aws.ToString(o.Key), Body: body}); err != nil {
				return err
			}
		}
	}
	return nil
}

// ReadRecords calls fn with every line under prefix decoded from JSON
// into a T, and its object's key, in listing and line order; a .parquet
// object's rows are decoded from their JSON twins (see Object.Lines). A
// line that is not JSON ends the read with an error naming its object and
// line.
func ReadRecords[T any](ctx context.Context, c ReadAPI, bucket, prefix string, fn func(key string, rec T) error) error {
	return ReadBatches(ctx, c, bucket, prefix, func(o Object) error {
		lines, err := o.Lines()
		if err != nil {
			return err
		}
		for i, line := range lines {
			var rec T
			if err := json.Unmarshal(line, &rec); err != nil {
				return fmt.Errorf("s3://%s/%s: line %d: %w", bucket, o.Key, i+1, err)
			}
			if err := fn(o.Key, rec); err != nil {
				return err
			}
		}
		return nil
	})
}
