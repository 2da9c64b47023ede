package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/redrive-io/redrive/internal/ctxwait"
	"github.com/redrive-io/redrive/internal/wait"
	"github.com/redrive-io/redrive/pipeline"
)

// rebalanceTarget is issue 10's target for one rebalance on one node.
const rebalanceTarget = 2 * time.Second

// rebalanceResult is workload r: what one rebalance costs the group. A
// steady flow keeps every partition busy while a second member joins and
// leaves again; each join and each leave is one rebalance.
type rebalanceResult struct {
	Partitions int32  `json:"partitions"`
	Rate       int    `json:"produce_rate_per_sec"`
	Produced   int    `json:"produced"`
	Flags      string `json:"member_flags"`
	// Heartbeat is the members' heartbeat interval; the triggers are
	// spread over one.
	Heartbeat float64 `json:"heartbeat_interval_seconds"`
	// Rebalances are the measured rebalances, in order.
	Rebalances []rebalanceEvent `json:"rebalances"`
	// The pause figures are over every rebalance, then by kind; seconds.
	MedianPause      float64 `json:"median_pause_seconds"`
	MaxPause         float64 `json:"max_pause_seconds"`
	JoinMedianPause  float64 `json:"join_median_pause_seconds"`
	LeaveMedianPause float64 `json:"leave_median_pause_seconds"`
	MedianFromJoin   float64 `json:"median_from_join_seconds"`
	TargetSeconds    float64 `json:"target_seconds"`
	// MeanUpload is the first member's mean S3 upload: a "partition
	// revoked" line is written once the partition's open batch is uploaded,
	// so a pause that starts at one may be understated by about this.
	MeanUpload float64 `json:"mean_upload_seconds"`
}

// rebalanceEvent is one measured rebalance. Its times come from the
// members' JSON logs, all written on this machine's clock.
type rebalanceEvent struct {
	Kind   string `json:"kind"`   // "join" or "leave"
	Member string `json:"member"` // the member that joined or left
	// Trigger is the joining member's "redrive running" line (it is about to
	// join) or the leaving member's "stopping" line (it stops fetching).
	Trigger time.Time `json:"trigger"`
	// FirstStop is the earliest line saying a partition stopped being
	// consumed: "partition revoked" (logged once the partition's open batch
	// is flushed) or a leaving member's "stopping".
	FirstStop time.Time `json:"first_stop"`
	// AllAssigned is the latest "partitions assigned" line of the first
	// generation in which exactly the expected members hold every partition:
	// the last member's set-up, right before its partitions are consumed.
	AllAssigned time.Time          `json:"all_assigned"`
	Generation  int                `json:"generation"` // -1 when goka did not log it
	Assignment  map[string][]int32 `json:"assignment"`
	// Pause is AllAssigned − FirstStop; FromTrigger is AllAssigned − Trigger.
	Pause       float64 `json:"pause_seconds"`
	FromTrigger float64 `json:"from_trigger_seconds"`
	// Confirmed is from AllAssigned until the group's committed offset of
	// every input partition had moved past where it stood when the
	// rebalance was seen: each partition was consumed, batched to S3 and
	// committed again. It is an upper bound, coarse by the batch age and the
	// commit interval, and a check rather than the figure.
	Confirmed float64 `json:"confirmed_seconds"`
}

// rebalanceFlags are the members' extra flags: a batch is sealed after a
// second instead of 30 s, so that a revoked partition's flush (which the
// "partition revoked" line waits for) is one small upload, and committed
// offsets, which confirm that consumption resumed, move every second or
// two.
func rebalanceFlags() []string { return []string{"--batch-max-age", "1s"} }

func (b *bench) rebalance(ctx context.Context) error {
	topic, group := "wr-rebalance", "bench-wr-redrive"
	res := &rebalanceResult{
		Partitions: b.sz.Partitions, Rate: b.sz.RebalanceRate,
		Flags: strings.Join(rebalanceFlags(), " "), TargetSeconds: rebalanceTarget.Seconds(),
	}
	heartbeat := b.heartbeatInterval()
	res.Heartbeat = heartbeat.Seconds()
	b.res.Rebalance = res
	if err := b.createTopics(ctx, topic); err != nil {
		return err
	}
	// Each rebalance takes seconds (goka used to sleep 5 s in each); the
	// budget bounds a run whose group never settles.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute+time.Duration(b.sz.Rebalances)*time.Minute)
	defer cancel()

	flow := startPaced(ctx, b.svc.Brokers, topic, b.sz.Partitions, newRecordGen(b.sz.RecordBytes), 0, b.sz.RebalanceRate)
	stopFlow := func() error {
		n, err := flow.Stop()
		res.Produced = n
		return err
	}
	defer stopFlow() //nolint:errcheck // on the error path only; the error that ended the run is reported

	a, err := b.startRedrive("wr-a", topic, group, "wr", rebalanceFlags()...)
	if err != nil {
		return err
	}
	defer a.Kill()
	if _, _, err := b.waitStable(ctx, a.proc, group); err != nil {
		return err
	}
	if err := b.waitRouting(ctx, a); err != nil {
		return err
	}

	var joiner *redriveProc
	defer func() {
		if joiner != nil {
			joiner.Kill()
		}
	}()
	for i := range b.sz.Rebalances {
		if err := ctxwait.Sleep(ctx, triggerPhase(i, b.sz.Rebalances, heartbeat)); err != nil {
			return err
		}
		var ev rebalanceEvent
		at := time.Now()
		if i%2 == 0 {
			name := fmt.Sprintf("wr-b%d", i/2+1)
			if joiner, err = b.startRedrive(name, topic, group, "wr", rebalanceFlags()...); err != nil {
				return err
			}
			ev, err = b.awaitRebalance(ctx, "join", name, at, topic, group, []*redriveProc{a, joiner}, []string{a.name, name})
		} else {
			if err := joiner.Signal(syscall.SIGTERM); err != nil {
				return err
			}
			ev, err = b.awaitRebalance(ctx, "leave", joiner.name, at, topic, group, []*redriveProc{a, joiner}, []string{a.name})
			if werr := joiner.Wait(time.Minute); werr != nil {
				err = errors.Join(err, werr)
			}
			joiner = nil
		}
		if err != nil {
			return fmt.Errorf("wr: rebalance %d (%s): %w", i+1, ev.Kind, err)
		}
		res.Rebalances = append(res.Rebalances, ev)
		b.log.Info("wr: rebalance", "n", i+1, "kind", ev.Kind, "generation", ev.Generation,
			"pause_s", ev.Pause, "from_trigger_s", ev.FromTrigger, "confirmed_s", ev.Confirmed)
		// The next rebalance starts from a settled group.
		if _, _, err := b.waitStable(ctx, a.proc, group); err != nil {
			return err
		}
	}
	if joiner != nil {
		if _, err := joiner.Stop(time.Minute); err != nil {
			return err
		}
		joiner = nil
	}
	if m, err := scrape(ctx, b.http, a.Addr); err == nil {
		if n := m.Sum("redrive_sink_upload_duration_seconds_count", nil); n > 0 {
			res.MeanUpload = m.Sum("redrive_sink_upload_duration_seconds_sum", nil) / n
		}
	}
	if _, err := a.Stop(time.Minute); err != nil {
		return err
	}
	if err := stopFlow(); err != nil {
		return err
	}
	res.summarise()
	b.rebalanceRows(res)
	return nil
}

// heartbeatInterval is how often the members heartbeat: a member learns
// of a rebalance from its next heartbeat. It is redrive's default unless
// -redrive-flags sets --heartbeat-interval.
func (b *bench) heartbeatInterval() time.Duration {
	var d pipeline.Config
	d.SetDefaults()
	return flagLast(b.opts.RedriveFlags, "--heartbeat-interval", d.HeartbeatInterval, time.ParseDuration)
}

// triggerPhase is how long to wait, once the group has settled, before
// rebalance i of n. A member's heartbeats tick from its session's set-up,
// so a join or leave made at a fixed time after the set-up would always
// meet the same heartbeat phase and every leave would show the same
// detection delay; spreading the triggers over one heartbeat interval
// samples it evenly.
func triggerPhase(i, n int, heartbeat time.Duration) time.Duration {
	return time.Duration(i) * heartbeat / time.Duration(max(n, 1))
}

// summarise computes the medians and the maximum of the rebalances.
func (res *rebalanceResult) summarise() {
	var all, joins, leaves, fromJoin []float64
	for _, e := range res.Rebalances {
		all = append(all, e.Pause)
		if e.Kind == "join" {
			joins = append(joins, e.Pause)
			fromJoin = append(fromJoin, e.FromTrigger)
		} else {
			leaves = append(leaves, e.Pause)
		}
	}
	res.MedianPause, res.JoinMedianPause, res.LeaveMedianPause = median(all), median(joins), median(leaves)
	res.MedianFromJoin = median(fromJoin)
	if len(all) > 0 {
		res.MaxPause = slices.Max(all)
	}
}

// rebalanceRows adds workload r's rows to the table.
func (b *bench) rebalanceRows(res *rebalanceResult) {
	const w = "r rebalance pause"
	n, joins := len(res.Rebalances), 0
	for _, e := range res.Rebalances {
		if e.Kind == "join" {
			joins++
		}
	}
	ref := fmt.Sprintf("%s s target (issue 10)", fnum(res.TargetSeconds))
	target := fmt.Sprintf("< %s s", fnum(res.TargetSeconds))
	b.res.add(w, fmt.Sprintf("pause (s), median of %d rebalances (a 2nd member: joins %d, leaves %d; %d partitions, %d records/s): first \"partition revoked\" or leaver's \"stopping\" line → last \"partitions assigned\" of the settled generation", n, joins, n-joins, res.Partitions, res.Rate),
		fnum(res.MedianPause), ref, fratio(res.MedianPause, res.TargetSeconds), target, check(n > 0 && res.MedianPause < res.TargetSeconds))
	b.res.add(w, fmt.Sprintf("pause (s), max of %d", n),
		fnum(res.MaxPause), ref, fratio(res.MaxPause, res.TargetSeconds), target, check(n > 0 && res.MaxPause < res.TargetSeconds))
	b.res.add(w, fmt.Sprintf("pause (s), median of joins / of leaves (a leave's includes the others' wait for their next heartbeat, up to %s s)", fnum(res.Heartbeat)),
		fnum(res.JoinMedianPause)+" / "+fnum(res.LeaveMedianPause), ref,
		fratio(res.JoinMedianPause, res.TargetSeconds)+" / "+fratio(res.LeaveMedianPause, res.TargetSeconds), "", nil)
	b.res.add(w, "joiner's \"redrive running\" → last \"partitions assigned\" (s), median of joins (adds its join and the others' heartbeat wait, while they still consume)",
		fnum(res.MedianFromJoin), ref, fratio(res.MedianFromJoin, res.TargetSeconds), "", nil)
	b.res.add(w, "mean S3 upload (s) of the first member: a \"partition revoked\" line waits for one, so a pause may be understated by about this",
		fnum(res.MeanUpload), "", "", "", nil)
}

// waitRouting waits until p has routed records: it is consuming.
func (b *bench) waitRouting(ctx context.Context, p *redriveProc) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return wait.Until(ctx, 100*time.Millisecond, p.name+" to route records", func() (bool, error) {
		if p.Exited() {
			return false, p.exitedEarly("routing records")
		}
		m, err := scrape(ctx, b.http, p.Addr)
		if err != nil {
			return false, nil //nolint:nilerr // a missed scrape: poll again
		}
		return m.Sum("redrive_records_routed_total", nil) > 0, nil
	})
}

// awaitRebalance reads the members' logs until the rebalance that began at
// `at` has settled with exactly holders holding every partition, then
// confirms that every input partition is consumed again.
func (b *bench) awaitRebalance(ctx context.Context, kind, member string, at time.Time, topic, group string, members []*redriveProc, holders []string) (rebalanceEvent, error) {
	ev := rebalanceEvent{Kind: kind, Member: member}
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	err := wait.Until(wctx, 100*time.Millisecond, kind+" of "+member+" to settle", func() (bool, error) {
		var evs []memberEvent
		for _, m := range members {
			data, err := os.ReadFile(m.log)
			if err != nil {
				return false, err
			}
			evs = append(evs, parseMemberLog(m.name, data)...)
			if m.Exited() && slices.Contains(holders, m.name) {
				return false, m.exitedEarly("the rebalance settled")
			}
		}
		found, ok := findRebalance(evs, at, kind, member, holders, b.sz.Partitions)
		if ok {
			found.Kind, found.Member = kind, member
			ev = found
		}
		return ok, nil
	})
	if err != nil {
		return ev, err
	}
	com0, err := b.kafka.Committed(group, topic)
	if err != nil {
		return ev, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = wait.Until(cctx, 100*time.Millisecond, "every partition of "+topic+" to be committed again", func() (bool, error) {
		com, err := b.kafka.Committed(group, topic)
		if err != nil {
			return false, nil //nolint:nilerr // a transient admin error: poll again
		}
		for p, c := range com0 {
			if com[p] <= c {
				return false, nil
			}
		}
		return true, nil
	})
	ev.Confirmed = time.Since(ev.AllAssigned).Seconds()
	return ev, err
}

// median of v (0 for none); the mean of the middle two for an even count.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
