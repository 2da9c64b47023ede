package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/redrive-io/redrive/sinks"
)

// objectsResult is workload 5: the objects the pass-through run left in S3
// at the default batch settings (10000 records, 8 MiB, 30 s, gzip).
type objectsResult struct {
	Objects           int     `json:"objects"`
	Bytes             int64   `json:"bytes"`
	MeanObjectMiB     float64 `json:"mean_object_mib"`
	RecordsPerObject  float64 `json:"records_per_object"`
	ObjectsPerMillion float64 `json:"objects_per_million"`
	// TailObjects are the partial batches flushed by the final stop, one
	// per partition at most; SteadyMeanMiB leaves them out.
	TailObjects   int     `json:"tail_objects"`
	SteadyMeanMiB float64 `json:"steady_mean_object_mib"`
	// Covered says the object keys' offset ranges tile every partition
	// from 0 to its high-water mark, with no gap and no overlap.
	Covered bool `json:"covered"`
}

// objects measures workload 5 from the objects under prefix and reports it.
func (b *bench) objects(ctx context.Context, prefix string, hw map[int32]int64, n int) error {
	res, err := b.measureObjects(ctx, prefix, hw, n)
	if err != nil {
		return err
	}
	b.res.Objects = res
	cov := "every offset once (from the keys)"
	if !res.Covered {
		cov = "GAP OR OVERLAP in the keys' offset ranges"
	}
	b.res.add("5 S3 objects", "mean object size MiB (gzip, default batch settings)", fmt.Sprintf("%.2f (%.2f without the %d tail objects)", res.MeanObjectMiB, res.SteadyMeanMiB, res.TailObjects), "", "", "", nil)
	b.res.add("5 S3 objects", "objects per 1M records", fnum(res.ObjectsPerMillion), fmt.Sprintf("%.0f records/object", res.RecordsPerObject), "", cov, check(res.Covered))
	return nil
}

// measureObjects measures the objects under prefix, and checks from their
// keys that they hold every offset below hw exactly once.
func (b *bench) measureObjects(ctx context.Context, prefix string, hw map[int32]int64, n int) (*objectsResult, error) {
	objs, err := listObjects(ctx, b.svc.S3.Client(), b.bucket, prefix)
	if err != nil {
		return nil, err
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("w5: no object under %s", prefix)
	}
	res := &objectsResult{Objects: len(objs)}
	type sized struct {
		sinks.KeyRange
		size int64
	}
	ranges := map[int32][]sized{}
	for _, o := range objs {
		res.Bytes += o.Size
		kr, err := sinks.ParseKey(o.Key)
		if err != nil {
			return nil, err
		}
		ranges[kr.Partition] = append(ranges[kr.Partition], sized{kr, o.Size})
	}
	res.Covered = true
	var tailBytes int64
	for p, h := range hw {
		rs := ranges[p]
		slices.SortFunc(rs, func(a, b sized) int { return cmp.Compare(a.First, b.First) })
		next := int64(0)
		for _, r := range rs {
			if r.First != next {
				res.Covered = false
			}
			next = r.Last + 1
		}
		if next != h {
			res.Covered = false
		}
		if len(rs) > 0 {
			res.TailObjects++
			tailBytes += rs[len(rs)-1].size
		}
	}
	res.MeanObjectMiB = mib(res.Bytes) / float64(res.Objects)
	res.RecordsPerObject = float64(n) / float64(res.Objects)
	res.ObjectsPerMillion = float64(res.Objects) / float64(n) * 1e6
	if steady := res.Objects - res.TailObjects; steady > 0 {
		res.SteadyMeanMiB = mib(res.Bytes-tailBytes) / float64(steady)
	}
	return res, nil
}
