package sinks

import "time"

// Partition layouts accepted by Config.PartitionLayout: how coarse the time
// buckets are that name an object's folders and split batches.
const (
	LayoutHourly = "hourly" // dt=YYYY-MM-DD/hr=HH/
	LayoutDaily  = "daily"  // dt=YYYY-MM-DD/, for topics too quiet to fill hourly objects
)

// truncateBucket returns the start, in UTC, of the bucket of layout that
// holds t.
func truncateBucket(t time.Time, layout string) time.Time {
	t = t.UTC()
	if layout == LayoutDaily {
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	return t.Truncate(time.Hour)
}
