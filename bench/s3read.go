package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/redrive-io/redrive/sinks"
)

// object is one S3 object as listed.
type object struct {
	Key  string
	Size int64
}

// listObjects lists every object under prefix.
func listObjects(ctx context.Context, c *s3.Client, bucket, prefix string) ([]object, error) {
	var out []object
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size)})
		}
	}
	return out, nil
}

// outputMeta is the part of an output line the benchmark reads: redrive's
// journey object.
type outputMeta struct {
	Redrive struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
		Attempt   int    `json:"attempt"`
		Enriched  bool   `json:"enriched"`
	} `json:"_redrive"`
}

// readLines calls fn with the metadata of every line of every object under
// prefix, read back as sinks.ReadBatches reads any batch (gzip, zstd or
// plain, told by the key's suffix).
func readLines(ctx context.Context, c *s3.Client, bucket, prefix string, fn func(outputMeta)) error {
	return sinks.ReadRecords(ctx, c, bucket, prefix, func(_ string, m outputMeta) error {
		fn(m)
		return nil
	})
}
