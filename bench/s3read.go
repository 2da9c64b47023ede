package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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

// keyRange is what an object key says about its batch: the input
// topic-partition and the first and last offsets in it.
type keyRange struct {
	Topic       string
	Partition   int32
	First, Last int64
}

// parseObjectKey reads PREFIX/dt=.../hr=../TOPIC-PARTITION-FIRST-LAST.jsonl[.gz|.zst].
// The topic may hold dashes, so the numbers are taken from the end.
func parseObjectKey(key string) (keyRange, error) {
	base := key[strings.LastIndexByte(key, '/')+1:]
	base = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(base, ".gz"), ".zst"), ".jsonl")
	parts := strings.Split(base, "-")
	if len(parts) < 4 {
		return keyRange{}, fmt.Errorf("object key %q: want TOPIC-PARTITION-FIRST-LAST", key)
	}
	n := len(parts)
	p, err1 := strconv.ParseInt(parts[n-3], 10, 32)
	first, err2 := strconv.ParseInt(parts[n-2], 10, 64)
	last, err3 := strconv.ParseInt(parts[n-1], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || first > last {
		return keyRange{}, fmt.Errorf("object key %q: want TOPIC-PARTITION-FIRST-LAST", key)
	}
	return keyRange{Topic: strings.Join(parts[:n-3], "-"), Partition: int32(p), First: first, Last: last}, nil
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
// prefix (gzip or plain, told by the key's suffix).
func readLines(ctx context.Context, c *s3.Client, bucket, prefix string, fn func(outputMeta)) error {
	objs, err := listObjects(ctx, c, bucket, prefix)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := readObject(ctx, c, bucket, o.Key, fn); err != nil {
			return err
		}
	}
	return nil
}

func readObject(ctx context.Context, c *s3.Client, bucket, key string, fn func(outputMeta)) error {
	resp, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("reading s3://%s/%s: %w", bucket, key, err)
	}
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	if strings.HasSuffix(key, ".gz") {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
		}
		defer zr.Close()
		r = zr
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var m outputMeta
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return fmt.Errorf("s3://%s/%s: a line is not JSON: %w", bucket, key, err)
		}
		fn(m)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}
