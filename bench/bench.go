package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/enrich/mockapi"
	"github.com/redrive-io/redrive/internal/testenv"
	"github.com/redrive-io/redrive/internal/wait"
	"github.com/redrive-io/redrive/pipeline"
)

// bench is one run of the suite: the services, the binaries, and the
// results gathered so far.
type bench struct {
	opts   options
	sz     sizes
	log    *slog.Logger
	svc    *services
	kafka  *cluster
	bins   binaries
	logDir string // children's logs
	bucket string
	http   *http.Client // for scrapes
	res    *results

	// enrichIdeal is the ideal enrichment rate measured by the enrichment
	// workload (C / mean served latency); the outage workload's drain target
	// uses it.
	enrichIdeal float64
}

// sampleEvery is how often /proc is read for a running child.
const sampleEvery = 200 * time.Millisecond

// redriveArgs are the flags every redrive run gets: the services, topics
// named after the input, a metrics port, JSON logs.
func (b *bench) redriveArgs(topic, group, prefix string, port int) []string {
	return []string{"run",
		"--brokers", strings.Join(b.svc.Brokers, ","),
		"--group", group,
		"--input-topic", topic,
		"--dlq-topic", topic + ".dlq",
		"--parking-topic", topic + ".parking",
		"--s3-bucket", b.bucket, "--s3-prefix", prefix,
		"--s3-endpoint", b.svc.S3.URL, "--s3-path-style", "--s3-region", b.svc.S3.Region,
		"--http-addr", "127.0.0.1:" + strconv.Itoa(port),
		"--log-format", "json", "--log-level", "info",
	}
}

// createTopics creates a workload's input topic and its DLQ and parking
// topics, with the same partition count. redrive could create the last two
// itself (--create-topics), but goka may then look the new DLQ topic up
// before the broker's metadata knows it, and fail to start.
func (b *bench) createTopics(ctx context.Context, topic string) error {
	if err := b.kafka.CreateTopic(ctx, topic, b.sz.Partitions, nil); err != nil {
		return err
	}
	// The safe values of --create-topics: the DLQ keeps a waiting record
	// longer than the default --max-age, parking keeps records forever.
	for t, conf := range map[string]map[string]*string{
		topic + ".dlq":     pipeline.DLQTopicConfig(0, dlq.Policy{}),
		topic + ".parking": pipeline.ParkingTopicConfig(0),
	} {
		if err := b.kafka.CreateTopic(ctx, t, b.sz.Partitions, conf); err != nil {
			return err
		}
	}
	return nil
}

// seedTopic creates a workload's topics, writes n records into the input,
// the given fraction of them needing enrichment, and checks that the input
// holds exactly those. It returns the input's high-water marks, where a
// consumer that read everything has committed, and how long producing took.
func (b *bench) seedTopic(ctx context.Context, topic string, n int, fraction float64) (map[int32]int64, time.Duration, error) {
	if err := b.createTopics(ctx, topic); err != nil {
		return nil, 0, err
	}
	b.log.Info("producing", "topic", topic, "records", n, "bytes", b.sz.RecordBytes, "enriched_fraction", fraction)
	took, err := produceAll(ctx, b.svc.Brokers, topic, b.sz.Partitions, newRecordGen(b.sz.RecordBytes), fraction, n)
	if err != nil {
		return nil, 0, err
	}
	hw, err := b.kafka.HighWater(topic)
	if err != nil {
		return nil, 0, err
	}
	if got := sumOffsets(hw); got != int64(n) {
		return nil, 0, fmt.Errorf("topic %s holds %d records, want %d", topic, got, n)
	}
	return hw, took, nil
}

// workloadInput is what a workload reads: its seeded topic and the mock
// API that enriches it.
type workloadInput struct {
	hw       map[int32]int64 // the topic's high-water marks
	produced time.Duration   // how long producing took
	api      *meteredAPI     // the caller closes it
}

// seedAndServe seeds topic as seedTopic does, then starts a mock API whose
// draws are seeded with apiSeed.
func (b *bench) seedAndServe(ctx context.Context, topic string, n int, fraction float64, apiSeed int64) (workloadInput, error) {
	hw, took, err := b.seedTopic(ctx, topic, n, fraction)
	if err != nil {
		return workloadInput{}, err
	}
	api, err := startAPI(mockapi.Config{Latency: b.sz.Latency, Seed: apiSeed})
	return workloadInput{hw: hw, produced: took, api: api}, err
}

// redriveProc is a running redrive child and its metrics address.
type redriveProc struct {
	*proc
	Addr  string
	Group string
	Args  []string
}

// startRedrive starts `redrive run` on topic with the common flags and extra.
func (b *bench) startRedrive(name, topic, group, prefix string, extra ...string) (*redriveProc, error) {
	port, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	args := append(b.redriveArgs(topic, group, prefix, port), extra...)
	args = append(args, strings.Fields(b.opts.RedriveFlags)...)
	env := append(b.svc.S3.Env(), strings.Fields(b.opts.RedriveEnv)...)
	p, err := startProc(name, filepath.Join(b.logDir, name+".log"), env, sampleEvery, b.bins.Redrive, args...)
	if err != nil {
		return nil, err
	}
	b.log.Info("started redrive", "run", name, "pid", p.Pid(), "log", p.log)
	return &redriveProc{proc: p, Addr: "127.0.0.1:" + strconv.Itoa(port), Group: group, Args: args}, nil
}

// startBaseline starts the bare consumer on topic with extra flags.
func (b *bench) startBaseline(name, topic, group string, extra ...string) (*proc, error) {
	args := append([]string{"-brokers", strings.Join(b.svc.Brokers, ","), "-group", group, "-topic", topic}, extra...)
	p, err := startProc(name, filepath.Join(b.logDir, name+".log"), nil, sampleEvery, b.bins.Baseline, args...)
	if err != nil {
		return nil, err
	}
	b.log.Info("started baseline", "run", name, "pid", p.Pid(), "log", p.log)
	return p, nil
}

// waitStable waits until the child's group has a settled assignment (the
// start of every measured window: process start-up and the group join are
// not counted) and returns that moment and the child's CPU time then.
func (b *bench) waitStable(ctx context.Context, p *proc, group string) (time.Time, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	err := wait.Until(ctx, 100*time.Millisecond, "group "+group+" to be stable", func() (bool, error) {
		if p.Exited() {
			return false, p.exitedEarly("joining its group")
		}
		ok, err := b.kafka.Stable(group)
		return ok && err == nil, nil
	})
	if err != nil {
		return time.Time{}, 0, err
	}
	at := time.Now()
	cpu, err := p.CPUNow()
	return at, cpu, err
}

// settled is a child whose group has become stable: the start of its
// measured window (process start-up and the group join are not counted).
type settled struct {
	*proc
	group string
	addr  string        // redrive's metrics address; "" for the baseline
	start time.Time     // when the group became stable
	cpu0  time.Duration // the child's CPU time then
}

// starter starts a child consuming as group and returns it with its
// metrics address ("" for the baseline).
type starter func(group string) (p *proc, addr string, err error)

// baselineStarter starts the bare consumer on topic with extra flags.
func (b *bench) baselineStarter(name, topic string, extra ...string) starter {
	return func(group string) (*proc, string, error) {
		p, err := b.startBaseline(name, topic, group, extra...)
		return p, "", err
	}
}

// redriveStarter starts redrive on topic, writing under prefix, with extra
// flags.
func (b *bench) redriveStarter(name, topic, prefix string, extra ...string) starter {
	return func(group string) (*proc, string, error) {
		p, err := b.startRedrive(name, topic, group, prefix, extra...)
		if err != nil {
			return nil, "", err
		}
		return p.proc, p.Addr, nil
	}
}

// startSettled starts a child with start and waits until its group is
// stable (see waitStable). The caller kills the child once done with it;
// a child whose group does not settle is killed here.
func (b *bench) startSettled(ctx context.Context, group string, start starter) (*settled, error) {
	p, addr, err := start(group)
	if err != nil {
		return nil, err
	}
	at, cpu0, err := b.waitStable(ctx, p, group)
	if err != nil {
		p.Kill()
		return nil, err
	}
	return &settled{proc: p, group: group, addr: addr, start: at, cpu0: cpu0}, nil
}

// waitCaughtUp polls until group has committed topics up to their
// high-water marks and returns when it saw that.
func (b *bench) waitCaughtUp(ctx context.Context, p *proc, timeout time.Duration, group string, topics ...string) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := wait.Until(ctx, 100*time.Millisecond, "group "+group+" to commit "+strings.Join(topics, ", "), func() (bool, error) {
		ok, err := b.kafka.CaughtUp(group, topics...)
		if err != nil {
			return false, nil //nolint:nilerr // a transient admin error: poll again
		}
		if !ok && p != nil && p.Exited() {
			return false, p.exitedEarly("its group caught up")
		}
		return ok, nil
	})
	return time.Now(), err
}

// waitCommitted polls, every 50 ms, until group has committed topic up to
// the high-water marks hw, read beforehand (the topic is no longer
// written): one request a poll, fine-grained enough for windows of a
// second or two.
func (b *bench) waitCommitted(ctx context.Context, p *proc, timeout time.Duration, group, topic string, hw map[int32]int64) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := wait.Until(ctx, 50*time.Millisecond, "group "+group+" to commit "+topic, func() (bool, error) {
		com, err := b.kafka.Committed(group, topic)
		if err != nil {
			return false, nil //nolint:nilerr // a transient admin error: poll again
		}
		for part, h := range hw {
			if max(com[part], 0) < h {
				if p != nil && p.Exited() {
					return false, p.exitedEarly("its group caught up")
				}
				return false, nil
			}
		}
		return true, nil
	})
	return time.Now(), err
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// median of the samples' RSS, in bytes (0 for none).
func medianRSS(samples []procSample) int64 {
	if len(samples) == 0 {
		return 0
	}
	v := make([]int64, len(samples))
	for i, s := range samples {
		v[i] = s.RSS
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// mib converts bytes to MiB.
func mib(n int64) float64 { return float64(n) / (1 << 20) }
