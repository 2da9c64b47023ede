package inspect

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"
)

// errLimit ends a tail that reached its limit.
var errLimit = errors.New("limit reached")

// Tail follows topics from their current ends and calls emit with each new
// record that matches f (replay markers are skipped), one call at a time,
// until ctx ends or f.Limit records were emitted; it then returns nil.
// started is called once every partition's end was taken, so a record
// written after it is sure to be seen.
func (s Scanner) Tail(ctx context.Context, topics []Topic, f Filter, started func(), emit func(Record) error) error {
	type part struct {
		t  Topic
		pr PartitionRange
	}
	var parts []part
	for _, t := range topics {
		ranges, err := s.Reader.Partitions(ctx, t.Name)
		if err != nil {
			return err
		}
		for _, pr := range ranges {
			parts = append(parts, part{t, pr})
		}
	}
	if started != nil {
		started()
	}
	var mu sync.Mutex
	n := 0
	g, gctx := errgroup.WithContext(ctx)
	for _, p := range parts {
		g.Go(func() error {
			err := s.Reader.Follow(gctx, p.t.Name, p.pr.Partition, p.pr.End, func(m Message) error {
				r := decode(p.t, m)
				if r.Marker != nil || !f.Match(r) {
					return nil
				}
				mu.Lock()
				defer mu.Unlock()
				if f.Limit > 0 && n >= f.Limit {
					return errLimit
				}
				n++
				if err := emit(r); err != nil {
					return err
				}
				if f.Limit > 0 && n >= f.Limit {
					return errLimit
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("following %s partition %d: %w", p.t.Name, p.pr.Partition, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil && !errors.Is(err, errLimit) {
		return err
	}
	return nil
}
