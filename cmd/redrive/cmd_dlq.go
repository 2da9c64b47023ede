package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/peterbourgon/ff/v4"
	"github.com/peterbourgon/ff/v4/ffhelp"

	"github.com/redrive-io/redrive/dlq/inspect"
	"github.com/redrive-io/redrive/pipeline"
)

// dlqConfig is what the flags of `redrive dlq` fill; every subcommand takes
// them, so that one environment serves `redrive run` and `redrive dlq`.
type dlqConfig struct {
	config  string // --config: read by the parser (parseOptions)
	kafka   pipeline.Kafka
	secrets kafkaSecrets
	topics  pipeline.Config
	json    bool
	now     func() time.Time
}

// filterFlags are the record filters of ls, tail and replay.
type filterFlags struct {
	topic        string
	classes      []string
	key          string
	since, until string
	minAttempts  int
	limit        int
}

func newDLQCommand(stdout, stderr io.Writer) *ff.Command {
	c := &dlqConfig{now: time.Now}
	fs := newFlagSet("dlq")
	bindConfigFlag(fs, &c.config)
	bindKafkaFlags(fs, &c.kafka, &c.secrets)
	bindTopicFlags(fs, &c.topics)
	fs.boolean(&c.json, "json", "write JSON Lines (one object per line) instead of a table")
	cmd := &ff.Command{
		Name:      "dlq",
		Usage:     "redrive dlq <stats|ls|show|tail|replay> [flags]",
		ShortHelp: "inspect the DLQ and parking topics, and replay parked records",
		LongHelp: `See what failed, why and since when, and send parked records back to the
input topic. The connection and topic flags are those of 'redrive run', with
the same REDRIVE_* environment variables.

Every command but 'replay --yes' is read-only: it reads partitions directly,
never joins the pipeline's consumer group and never commits an offset. Output
is a table, or JSON Lines with --json; a scan shows a progress bar on stderr
when stderr is a terminal.

'replay --yes' writes each replayed record to the input topic and then a small
replay marker to the parking topic (header redrive-replay-of: PARTITION:OFFSET);
the inspector counts markers as bookkeeping, and replay skips records that
have one, so replaying the same selection twice sends nothing the second time.`,
		Flags: fs.FlagSet,
	}
	cmd.Exec = func(_ context.Context, args []string) error {
		// As at the top level, a missing or mistyped command is a usage
		// error, never a silent success.
		fmt.Fprintf(stderr, "%s\n", ffhelp.Command(cmd))
		if len(args) > 0 {
			return usageError{fmt.Errorf("dlq: unknown command %q (want stats, ls, show, tail or replay)", args[0])}
		}
		return usageError{errors.New("dlq: no command given (want stats, ls, show, tail or replay)")}
	}
	cmd.Subcommands = []*ff.Command{
		c.statsCommand(fs, stdout, stderr),
		c.lsCommand(fs, stdout, stderr),
		c.showCommand(fs, stdout, stderr),
		c.tailCommand(fs, stdout, stderr),
		c.replayCommand(fs, stdout, stderr),
	}
	return cmd
}

// subFlags is a subcommand's flag set, which also accepts the dlq flags.
func subFlags(name string, parent flagSet) flagSet {
	fs := newFlagSet(name)
	fs.FlagSet.SetParent(parent.FlagSet)
	return fs
}

func bindFilterFlags(fs flagSet, f *filterFlags, withTopic bool) {
	if withTopic {
		fs.str(&f.topic, "topic", "", "which topic: dlq or parking (default: both)")
	}
	fs.value(listValue{&f.classes}, "error", "keep records of these error classes, comma-separated (e.g. http_4xx,malformed)")
	fs.str(&f.key, "key", "", "keep records with exactly this key")
	fs.str(&f.since, "since", "", "keep records that first failed at or after this time: RFC 3339, or a duration like 2h meaning 2h ago")
	fs.str(&f.until, "until", "", "keep records that first failed before this time: RFC 3339, or a duration like 30m meaning 30m ago")
	fs.integer(&f.minAttempts, "min-attempts", 0, "keep records with at least this many failed attempts")
	fs.integer(&f.limit, "limit", 0, "stop after this many records (0: no limit)")
}

// filter turns the flags into a validated filter; errors name the flag and
// the value.
func (f filterFlags) filter(now time.Time) (inspect.Filter, error) {
	out := inspect.Filter{Classes: f.classes, Key: f.key, MinAttempts: f.minAttempts, Limit: f.limit}
	for _, t := range []struct {
		flag, value string
		dst         *time.Time
	}{{"since", f.since, &out.Since}, {"until", f.until, &out.Until}} {
		if t.value == "" {
			continue
		}
		v, err := inspect.ParseTime(t.value, now)
		if err != nil {
			return out, fmt.Errorf("%s: %w", t.flag, err)
		}
		*t.dst = v
	}
	return out, out.Validate()
}

// start checks the arguments and the filters, connects, and checks that the
// topics --topic names (def when not given) exist. The caller closes s.k.
func (c *dlqConfig) start(ctx context.Context, name string, args []string, f filterFlags, def string, needInput bool, stderr io.Writer) (*dlqSession, inspect.Filter, []inspect.Topic, error) {
	var filter inspect.Filter
	if err := noArgs(name, args); err != nil {
		return nil, filter, nil, err
	}
	rs, err := roles(f.topic, def)
	if err != nil {
		return nil, filter, nil, err
	}
	if filter, err = f.filter(c.now()); err != nil {
		return nil, filter, nil, usageError{err}
	}
	s, err := c.connect(needInput, stderr)
	if err != nil {
		return nil, filter, nil, err
	}
	if err := s.check(ctx, rs...); err != nil {
		s.k.Close()
		return nil, filter, nil, err
	}
	var topics []inspect.Topic
	for _, r := range rs {
		t, _ := s.topic(r)
		topics = append(topics, t)
	}
	return s, filter, topics, nil
}

// dlqSession is a connection with the topic names resolved.
type dlqSession struct {
	cfg    *dlqConfig
	k      *inspect.Kafka
	stderr io.Writer
	bars   bool // stderr is a terminal
}

// connect checks the flags and connects. needInput: the command needs the
// input topic itself (stats for its lag, replay as the destination).
func (c *dlqConfig) connect(needInput bool, stderr io.Writer) (*dlqSession, error) {
	defaultTopicNames(&c.topics)
	t := c.topics
	switch {
	case needInput && t.InputTopic == "":
		return nil, usageError{errors.New("input-topic: required (the DLQ and parking topics default to INPUT.dlq and INPUT.parking)")}
	case t.DLQTopic == "" || t.ParkingTopic == "":
		return nil, usageError{errors.New("input-topic: required (or give both --dlq-topic and --parking-topic)")}
	}
	if err := c.secrets.finish(&c.kafka); err != nil {
		return nil, usageError{err}
	}
	c.kafka.SetDefaults()
	if err := c.kafka.Validate(); err != nil {
		return nil, usageError{err}
	}
	if err := checkTLSFlags(c.kafka); err != nil {
		return nil, usageError{err}
	}
	base, err := c.kafka.SaramaConfig()
	if err != nil {
		return nil, usageError{err}
	}
	k, err := inspect.Connect(c.kafka.Brokers, inspect.ClientConfig(base))
	if err != nil {
		return nil, withKafkaHint(err, c.kafka)
	}
	return &dlqSession{cfg: c, k: k, stderr: stderr, bars: isTerminal(stderr)}, nil
}

// check makes sure the topics of roles exist before a long scan begins, so
// that a wrong name fails at once and names its flag.
func (s *dlqSession) check(ctx context.Context, roles ...inspect.Role) error {
	for _, r := range roles {
		t, _ := s.topic(r)
		if _, err := s.k.Partitions(ctx, t.Name); err != nil {
			return s.explain(err)
		}
	}
	return nil
}

// topic returns the topic of a role with the flag that names it.
func (s *dlqSession) topic(r inspect.Role) (inspect.Topic, string) {
	switch r {
	case inspect.RoleInput:
		return inspect.Topic{Name: s.cfg.topics.InputTopic, Role: r}, "input-topic"
	case inspect.RoleDLQ:
		return inspect.Topic{Name: s.cfg.topics.DLQTopic, Role: r}, "dlq-topic"
	}
	return inspect.Topic{Name: s.cfg.topics.ParkingTopic, Role: inspect.RoleParking}, "parking-topic"
}

// explain names the flag to fix when a topic is missing.
func (s *dlqSession) explain(err error) error {
	var nf *inspect.TopicNotFoundError
	if !errors.As(err, &nf) {
		return err
	}
	for _, r := range []inspect.Role{inspect.RoleInput, inspect.RoleDLQ, inspect.RoleParking} {
		if t, flag := s.topic(r); t.Name == nf.Topic {
			return fmt.Errorf("%s: %w (set --%s or %s; the DLQ and parking topics default to INPUT.dlq and INPUT.parking)", flag, err, flag, envName(flag))
		}
	}
	return err
}

// scanner reads with a progress bar labelled for t when stderr is a
// terminal; call the returned function when the scan is over.
func (s *dlqSession) scanner(t inspect.Topic) (inspect.Scanner, *inspect.ProgressBar) {
	sc := inspect.Scanner{Reader: s.k}
	if !s.bars {
		return sc, nil
	}
	bar := inspect.NewProgressBar(s.stderr, "scanning "+t.Name, s.cfg.now)
	sc.Progress = bar.Update
	return sc, bar
}

func clearBar(b *inspect.ProgressBar) {
	if b != nil {
		b.Clear()
	}
}

// roles turns --topic into the roles to read.
func roles(topic, def string) ([]inspect.Role, error) {
	if topic == "" {
		topic = def
	}
	switch topic {
	case "dlq":
		return []inspect.Role{inspect.RoleDLQ}, nil
	case "parking":
		return []inspect.Role{inspect.RoleParking}, nil
	case "both":
		return []inspect.Role{inspect.RoleDLQ, inspect.RoleParking}, nil
	}
	return nil, usageError{fmt.Errorf("topic: %q is not dlq or parking", topic)}
}

func noArgs(name string, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s: unexpected arguments %q", name, args)}
	}
	return nil
}

// isTerminal reports whether w is a terminal (a character device), where a
// progress bar helps; in a pipe or a file it would be noise.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (c *dlqConfig) statsCommand(parent flagSet, stdout, stderr io.Writer) *ff.Command {
	fs := subFlags("stats", parent)
	return &ff.Command{
		Name:      "stats",
		Usage:     "redrive dlq stats [flags]",
		ShortHelp: "count DLQ and parked records per partition, by error class and attempt, with the group's lag",
		LongHelp: `For the DLQ and the parking topic, per partition and in total: the records
retained (replay markers excluded) and, beside them, those that wait now: on
the DLQ the records the pipeline's group (--group) has yet to process, by
error class; on the parking topic those not replayed. Then the oldest and
newest first failure, the counts by error class and by attempt over all that
is retained, and how many parked records were replayed. The input topic's
lag is shown too; its records are not read. A group with no committed
offsets (a mistyped --group) is warned about on stderr.`,
		Flags: fs.FlagSet,
		Exec: func(ctx context.Context, args []string) error {
			if err := noArgs("stats", args); err != nil {
				return err
			}
			s, err := c.connect(true, stderr)
			if err != nil {
				return err
			}
			defer s.k.Close()
			all := []inspect.Role{inspect.RoleDLQ, inspect.RoleParking, inspect.RoleInput}
			if err := s.check(ctx, all...); err != nil {
				return err
			}
			var stats []inspect.TopicStats
			for _, r := range all {
				t, _ := s.topic(r)
				sc, bar := s.scanner(t)
				ts, err := c.topicStats(ctx, s, sc, t)
				clearBar(bar)
				if err != nil {
					return s.explain(err)
				}
				if ts.NoCommittedOffsets {
					fmt.Fprintf(stderr, "warning: group %q has no committed offsets on %s, so every retained record counts as waiting; is --group the pipeline's group?\n", c.topics.Group, t.Name)
				}
				stats = append(stats, ts)
			}
			if !c.json {
				return inspect.WriteStatsTable(stdout, stats)
			}
			for _, ts := range stats {
				if err := inspect.WriteJSON(stdout, ts); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// topicStats are the figures of one topic, with the group's lag for the
// topics it consumes: the input topic is measured, not read; the DLQ's
// committed offsets are read first, so that the scan can tell the records
// that wait from those already processed.
func (c *dlqConfig) topicStats(ctx context.Context, s *dlqSession, sc inspect.Scanner, t inspect.Topic) (inspect.TopicStats, error) {
	switch t.Role {
	case inspect.RoleInput:
		ts, err := sc.Offsets(ctx, t)
		if err != nil {
			return ts, err
		}
		return ts, ts.FetchLag(ctx, s.k, c.topics.Group)
	case inspect.RoleDLQ:
		ranges, err := s.k.Partitions(ctx, t.Name)
		if err != nil {
			return inspect.TopicStats{}, err
		}
		ids := make([]int32, len(ranges))
		for i, r := range ranges {
			ids[i] = r.Partition
		}
		committed, err := s.k.Committed(ctx, c.topics.Group, t.Name, ids)
		if err != nil {
			return inspect.TopicStats{}, err
		}
		ts, err := sc.StatsSince(ctx, t, committed)
		if err != nil {
			return ts, err
		}
		ts.SetLag(c.topics.Group, committed)
		return ts, nil
	}
	return sc.Stats(ctx, t)
}

// filteredCommand completes cmd (ls, tail) as a read-only command over the
// DLQ and parking topics that takes the record filters: it binds the
// filter flags, and its Exec checks them, connects and hands run the
// session, the filter and the topics --topic chose (both by default).
func (c *dlqConfig) filteredCommand(parent flagSet, stderr io.Writer, cmd ff.Command,
	run func(ctx context.Context, s *dlqSession, filter inspect.Filter, topics []inspect.Topic) error) *ff.Command {
	var f filterFlags
	fs := subFlags(cmd.Name, parent)
	bindFilterFlags(fs, &f, true)
	cmd.Flags = fs.FlagSet
	cmd.Exec = func(ctx context.Context, args []string) error {
		s, filter, topics, err := c.start(ctx, cmd.Name, args, f, "both", false, stderr)
		if err != nil {
			return err
		}
		defer s.k.Close()
		return run(ctx, s, filter, topics)
	}
	return &cmd
}

func (c *dlqConfig) lsCommand(parent flagSet, stdout, stderr io.Writer) *ff.Command {
	return c.filteredCommand(parent, stderr, ff.Command{
		Name:      "ls",
		Usage:     "redrive dlq ls [flags]",
		ShortHelp: "list DLQ and parked records, one line each, with filters",
		LongHelp: `One line per record: topic, PARTITION:OFFSET, key, attempt, error class, age
since its first failure, whether it was replayed, and the start of its value.
Records are listed by topic (DLQ first), partition and offset. --limit counts
across both topics.`,
	}, func(ctx context.Context, s *dlqSession, filter inspect.Filter, topics []inspect.Topic) error {
		table := inspect.NewRecordTable(stdout, c.now())
		total := 0
		for _, t := range topics {
			sc, bar := s.scanner(t)
			sel, err := sc.Select(ctx, t, filter, inspect.SelectOptions{}, func(recs []inspect.Record) error {
				return c.writeRecords(stdout, table, recs)
			})
			clearBar(bar)
			if err != nil {
				return s.explain(err)
			}
			total += sel.Matched
			if filter.Limit > 0 {
				if filter.Limit -= sel.Matched; filter.Limit == 0 {
					break
				}
			}
		}
		if total == 0 {
			fmt.Fprintln(stderr, "no record matches")
		}
		return table.Flush()
	})
}

// writeRecords writes records as JSON Lines or into the table.
func (c *dlqConfig) writeRecords(stdout io.Writer, table *inspect.RecordTable, recs []inspect.Record) error {
	for _, r := range recs {
		if c.json {
			if err := inspect.WriteJSON(stdout, inspect.NewRecordJSON(r)); err != nil {
				return err
			}
			continue
		}
		table.Add(r)
	}
	return nil
}

func (c *dlqConfig) showCommand(parent flagSet, stdout, stderr io.Writer) *ff.Command {
	var topic string
	fs := subFlags("show", parent)
	fs.str(&topic, "topic", "parking", "which topic: dlq or parking")
	return &ff.Command{
		Name:      "show",
		Usage:     "redrive dlq show PARTITION:OFFSET [flags]",
		ShortHelp: "show one record whole: headers decoded, value pretty-printed",
		LongHelp: `Show the record at PARTITION:OFFSET of the parking topic (or the DLQ with
--topic dlq): its envelope decoded (attempt, error class and message, first
failure, not-before time, origin), whether and where it was replayed, every
header as read, and its value, pretty-printed when it is JSON.`,
		Flags: fs.FlagSet,
		Exec: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("show: want one PARTITION:OFFSET, got %q", args)}
			}
			at, err := inspect.ParseCoord(args[0])
			if err != nil {
				return usageError{fmt.Errorf("show: %w", err)}
			}
			rs, err := roles(topic, "parking")
			if err != nil || len(rs) != 1 {
				return usageError{fmt.Errorf("topic: %q is not dlq or parking", topic)}
			}
			s, err := c.connect(false, stderr)
			if err != nil {
				return err
			}
			defer s.k.Close()
			t, _ := s.topic(rs[0])
			rec, err := inspect.Scanner{Reader: s.k}.Find(ctx, t, at)
			if err != nil {
				return s.explain(err)
			}
			if c.json {
				return inspect.WriteJSON(stdout, inspect.NewRecordJSON(rec))
			}
			return inspect.WriteShow(stdout, rec, c.now())
		},
	}
}

func (c *dlqConfig) tailCommand(parent flagSet, stdout, stderr io.Writer) *ff.Command {
	return c.filteredCommand(parent, stderr, ff.Command{
		Name:      "tail",
		Usage:     "redrive dlq tail [flags]",
		ShortHelp: "follow new DLQ and parked records as they arrive",
		LongHelp: `Print each record written to the DLQ or parking topic from now on, in the
format of ls, until interrupted (or until --limit records were printed).
Filters apply; replay markers are not shown.`,
	}, func(ctx context.Context, s *dlqSession, filter inspect.Filter, topics []inspect.Topic) error {
		var names []string
		for _, t := range topics {
			names = append(names, t.Name)
		}
		started := func() {
			fmt.Fprintf(stderr, "following %s from the end; interrupt to stop\n", strings.Join(names, " and "))
			if !c.json {
				fmt.Fprintln(stdout, inspect.LineHeader())
			}
		}
		var mu sync.Mutex
		err := inspect.Scanner{Reader: s.k}.Tail(ctx, topics, filter, started, func(r inspect.Record) error {
			mu.Lock()
			defer mu.Unlock()
			if c.json {
				return inspect.WriteJSON(stdout, inspect.NewRecordJSON(r))
			}
			_, err := fmt.Fprintln(stdout, inspect.Line(r, c.now()))
			return err
		})
		return s.explain(err)
	})
}

// replaySummary is the last line of replay's JSON output.
type replaySummary struct {
	DryRun          bool   `json:"dry_run"`
	InputTopic      string `json:"input_topic"`
	Selected        int    `json:"selected"`         // matching records not yet replayed
	AlreadyReplayed int    `json:"already_replayed"` // matching records skipped: they have a replay marker
	Sent            int    `json:"sent"`
	Failed          int    `json:"failed"`
	Unmarked        int    `json:"unmarked"` // sent, but the marker was not written
	// SkippedParkedAgain: matching records of classes that would be parked
	// again on arrival (malformed, oversize, rule_error), not sent
	// without --force.
	SkippedParkedAgain int `json:"skipped_parked_again"`
}

func (c *dlqConfig) replayCommand(parent flagSet, stdout, stderr io.Writer) *ff.Command {
	var (
		f     filterFlags
		yes   bool
		force bool
		rps   float64
	)
	fs := subFlags("replay", parent)
	bindFilterFlags(fs, &f, false)
	fs.boolean(&yes, "yes", "really send; without it, replay only prints what it would send (command line only: the env var is refused)")
	fs.boolean(&force, "force", "also replay records that would be parked again on arrival: malformed, oversize, rule_error, schema_mismatch")
	fs.FlagSet.Float64Var(&rps, 0, "rate", 100, fs.usage("rate", "records sent per second at most (0: no limit)"))
	return &ff.Command{
		Name:      "replay",
		Usage:     "redrive dlq replay [flags] [--yes]",
		ShortHelp: "send parked records back to the input topic for a fresh start (dry run unless --yes)",
		LongHelp: `Select parked records with the filters and send each back to the input topic:
same key, same value, on the partition it first arrived on, with attempt 0,
its original origin (so downstream still de-duplicates it) and a replay time,
which the pipeline writes into the output's _redrive.replayed_at.

Without --yes nothing is written: the records that would be sent are listed.
With --yes, each record acknowledged by the input topic gets a replay marker
in the parking topic; records that have one are skipped (and counted), so
replaying the same selection twice sends nothing the second time, and
--limit N sends the next N not yet replayed.

Records that would be parked again as soon as the pipeline reads them
(malformed, oversize, rule_error, schema_mismatch) are skipped and counted
unless --force is given, and --error naming one of those classes is refused
without it.
While sending, a progress line with the time left is written on stderr
every few seconds.`,
		Flags: fs.FlagSet,
		Exec: func(ctx context.Context, args []string) error {
			if rps < 0 {
				return usageError{fmt.Errorf("rate: %v is negative (0 means no limit)", rps)}
			}
			if yes && os.Getenv(envName("yes")) != "" {
				// The dry run is the safety net; an environment that
				// stays set must not remove it for every later run.
				return usageError{fmt.Errorf("yes: %s is set in the environment; replay sends only with --yes on the command line", envName("yes"))}
			}
			if err := refuseParkedAgain(f.classes, force); err != nil {
				return usageError{err}
			}
			s, filter, _, err := c.start(ctx, "replay", args, f, "parking", true, stderr)
			if err != nil {
				return err
			}
			defer s.k.Close()
			return c.replay(ctx, s, filter, replayOptions{yes: yes, force: force, rps: rps}, stdout, stderr)
		},
	}
}

// replayOptions are the flags of replay that change what it sends.
type replayOptions struct {
	yes   bool    // send; else a dry run
	force bool    // also send records that would be parked again
	rps   float64 // records per second at most; 0 is no limit
}

// countReplay counts the records a replay would send, so that its
// progress can say how many are left.
func (c *dlqConfig) countReplay(ctx context.Context, s *dlqSession, parking inspect.Topic, filter inspect.Filter, force bool) (int, error) {
	n := 0
	_, err := inspect.Scanner{Reader: s.k}.Select(ctx, parking, filter, inspect.SelectOptions{SkipReplayed: true}, func(recs []inspect.Record) error {
		n += len(skipParkedAgain(recs, force, map[string]int{}))
		return nil
	})
	return n, err
}

func (c *dlqConfig) replay(ctx context.Context, s *dlqSession, filter inspect.Filter, o replayOptions, stdout, stderr io.Writer) error {
	yes, rps := o.yes, o.rps
	input, _ := s.topic(inspect.RoleInput)
	parking, _ := s.topic(inspect.RoleParking)
	inputParts, err := s.k.Partitions(ctx, input.Name)
	if err != nil {
		return s.explain(err)
	}
	rp := inspect.Replayer{
		Sender: s.k, Input: input.Name, InputPartitions: int32(len(inputParts)),
		Pacer: &inspect.Pacer{Rate: rps}, Now: c.now,
	}
	sum := replaySummary{DryRun: !yes, InputTopic: input.Name}
	table := inspect.NewRecordTable(stdout, c.now())
	var progress *replayProgress
	if yes {
		total, err := c.countReplay(ctx, s, parking, filter, o.force)
		if err != nil {
			return s.explain(err)
		}
		progress = newReplayProgress(stderr, c.now, total, rps)
	}
	skipped := map[string]int{}
	var failed error
	sc, bar := s.scanner(parking)
	if progress != nil {
		progress.beforeLine = func() { clearBar(bar) }
	}
	sel, err := sc.Select(ctx, parking, filter, inspect.SelectOptions{SkipReplayed: true}, func(recs []inspect.Record) error {
		recs = skipParkedAgain(recs, o.force, skipped)
		sum.Selected += len(recs)
		if !yes {
			return c.writeRecords(stdout, table, recs)
		}
		n, err := rp.Replay(ctx, recs, func(res inspect.ReplayResult) {
			progress.add(1)
			if res.Err != nil {
				clearBar(bar)
				fmt.Fprintf(stderr, "replay of %s %s: %v\n", parking.Name, res.Record.Coord(), res.Err)
				return
			}
			c.writeRecords(stdout, table, []inspect.Record{res.Record}) //nolint:errcheck // stdout errors surface at Flush
		})
		sum.Sent += n.Sent
		sum.Failed += n.Failed
		sum.Unmarked += n.Unmarked
		if errors.Is(err, inspect.ErrIncomplete) {
			// Go on with the other partitions; report at the end.
			failed = err
			return nil
		}
		return err
	})
	clearBar(bar)
	sum.AlreadyReplayed = sel.Replayed
	if err != nil {
		return s.explain(err)
	}
	if which, n := describeSkipped(skipped); n > 0 {
		sum.SkippedParkedAgain = n
		fmt.Fprintf(stderr, "replay: skipped %d records that would be parked again on arrival (%s); add --force to replay them anyway\n", n, which)
	}
	if err := table.Flush(); err != nil {
		return err
	}
	if c.json {
		if err := inspect.WriteJSON(stdout, struct {
			Summary replaySummary `json:"summary"`
		}{sum}); err != nil {
			return err
		}
	} else {
		printReplaySummary(stdout, sum, rps)
	}
	if failed != nil {
		return fmt.Errorf("%d of %d records not replayed, %d replayed but not marked: %w", sum.Failed, sum.Selected, sum.Unmarked, failed)
	}
	return nil
}

func printReplaySummary(w io.Writer, s replaySummary, rps float64) {
	skipped := ""
	if s.AlreadyReplayed > 0 {
		skipped = fmt.Sprintf("; %d already replayed, skipped", s.AlreadyReplayed)
	}
	if s.DryRun {
		fmt.Fprintf(w, "dry run: %d parked records would be replayed to %s%s. Nothing was sent: add --yes to send them.\n",
			s.Selected, s.InputTopic, skipped)
		return
	}
	rate := "no rate limit"
	if rps > 0 {
		rate = fmt.Sprintf("at most %g/s", rps)
	}
	fmt.Fprintf(w, "replayed %d of %d parked records to %s (%s)%s; %d failed, %d not marked.\n",
		s.Sent, s.Selected, s.InputTopic, rate, skipped, s.Failed, s.Unmarked)
}
