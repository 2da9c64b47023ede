package redrive_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/internal/ctxwait"
	"github.com/redrive-io/redrive/internal/embedded"
	"github.com/redrive-io/redrive/internal/testenv"
	"github.com/redrive-io/redrive/internal/wait"
	"github.com/redrive-io/redrive/pipeline"
	"github.com/redrive-io/redrive/sinks"
)

// The services every end-to-end test of this package shares, started by
// the first test that needs them and stopped by TestMain.
var (
	sharedKafka = testenv.SharedKafka(1)
	sharedS3    = testenv.SharedS3()
	// redriveBin is the real binary, built once by TestMain.
	redriveBin string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "redrive-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	redriveBin = filepath.Join(dir, "redrive")
	if out, err := exec.Command("go", "build", "-o", redriveBin, "./cmd/redrive").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building redrive: %v\n%s", err, out)
		os.Exit(1)
	}
	testenv.Main(m, sharedKafka, sharedS3, dirRemover(dir))
}

type dirRemover string

func (d dirRemover) Close() error { return os.RemoveAll(string(d)) }

// env is the set of services one end-to-end test runs against.
type env struct {
	name    string
	brokers []string
	kafka   *testenv.Kafka // nil when embedded
	store   *testenv.S3    // nil when embedded
	s3cfg   sinks.S3ClientConfig
	client  *s3.Client
	bucket  string
	prefix  string // topic and group prefix, unique per test
}

// newEnv returns real Kafka (nodes brokers; 1 is shared, 3 is the test's own)
// and the real S3 server when they can be started. Otherwise, outside CI,
// it says so loudly and returns the embedded ones; under CI=true that is a
// failure (testenv.Unavailable).
func newEnv(t *testing.T, nodes int) *env {
	t.Helper()
	return newEnvOn(t, nodes, nodes != 1)
}

// newPrivateEnv is newEnv with a Kafka cluster of the test's own, for tests
// that stop its brokers.
func newPrivateEnv(t *testing.T, nodes int) *env {
	t.Helper()
	return newEnvOn(t, nodes, true)
}

// newBrokerStopEnv is a one-node private cluster for a test that stops and
// starts its broker. The embedded broker cannot be stopped, so without real
// Kafka (reported loudly by newEnvOn, a failure under CI) the test skips.
func newBrokerStopEnv(t *testing.T) *env {
	t.Helper()
	e := newPrivateEnv(t, 1)
	if e.kafka == nil {
		t.Skip("needs a real Kafka broker to stop and start (reported above)")
	}
	return e
}

func newEnvOn(t *testing.T, nodes int, private bool) *env {
	t.Helper()
	e := &env{prefix: testenv.UniqueName(t, "e2e")}
	ctx := t.Context()
	var kerr, serr error
	if !private {
		e.kafka, kerr = sharedKafka.Get(ctx)
	} else {
		e.kafka, kerr = testenv.StartKafka(ctx, nodes)
		if kerr == nil {
			t.Cleanup(func() { e.kafka.Close() })
		}
	}
	if kerr == nil {
		e.store, serr = sharedS3.Get(ctx)
	}
	if kerr != nil || serr != nil {
		testenv.Unavailable(t, "Kafka and S3", errorsJoin(kerr, serr))
		return embeddedEnv(t)
	}
	e.name = fmt.Sprintf("real Apache Kafka 4.4.0 (%d node) + versitygw", nodes)
	e.brokers = e.kafka.Brokers
	e.bucket = testenv.UniqueName(t, "out")
	if err := e.store.CreateBucket(ctx, e.bucket); err != nil {
		t.Fatalf("creating bucket: %v", err)
	}
	e.s3cfg = sinks.S3ClientConfig{Endpoint: e.store.Endpoint, Region: e.store.Region, PathStyle: true,
		AccessKeyID: e.store.AccessKey, SecretAccessKey: e.store.SecretKey}
	e.client = e.store.Client()
	t.Logf("end-to-end against %s", e.name)
	return e
}

// embeddedEnv runs the in-process broker and S3.
func embeddedEnv(t *testing.T) *env {
	t.Helper()
	k, err := embedded.StartKafka(4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	srv, err := embedded.StartS3("out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	e := &env{
		name: "embedded kfake + gofakes3", brokers: k.Brokers(), bucket: "out",
		prefix: testenv.UniqueName(t, "e2e"),
		s3cfg:  sinks.S3ClientConfig{Endpoint: srv.URL, PathStyle: true, AccessKeyID: "x", SecretAccessKey: "y"},
	}
	e.client = s3Client(t, srv.URL, "x", "y")
	t.Logf("end-to-end against %s", e.name)
	return e
}

func errorsJoin(errs ...error) error {
	var msgs []string
	for _, err := range errs {
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}

func (e *env) topic() string   { return e.prefix + "-in" }
func (e *env) dlq() string     { return e.prefix + "-in.dlq" }
func (e *env) parking() string { return e.prefix + "-in.parking" }
func (e *env) group() string   { return e.prefix + "-g" }

// proc is one `redrive run` process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	log    *bytes.Buffer
	mu     *sync.Mutex
	done   chan error
	exited chan struct{} // closed when the process has exited, for whatever reason
}

// running reports whether the process has not exited.
func (p *proc) running() bool { return !ctxwait.Closed(p.exited) }

// httpAddr waits for the process to log its metrics address.
func (p *proc) httpAddr() string {
	p.t.Helper()
	re := regexp.MustCompile(`"msg":"serving /metrics, /healthz and /readyz".*"http":"([^"]+)"`)
	var addr string
	wait.For(p.t, time.Minute, "redrive to log its HTTP address", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		if m := re.FindStringSubmatch(p.log.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	return addr
}

// runArgs are the flags every test process gets; extra ones override.
func (e *env) runArgs(apiURL string, extra ...string) []string {
	args := []string{"run",
		"--brokers=" + strings.Join(e.brokers, ","),
		"--group=" + e.group(), "--input-topic=" + e.topic(), "--dlq-topic=" + e.dlq(), "--parking-topic=" + e.parking(),
		"--create-topics", "--partitions=4",
		"--s3-bucket=" + e.bucket, "--s3-endpoint=" + e.s3cfg.Endpoint, "--s3-path-style",
		"--batch-max-age=500ms", "--commit-interval=100ms",
		"--retry-base=200ms", "--retry-max-delay=2s", "--max-attempts=50",
		"--breaker-open-for=300ms", "--enrich-timeout=1s",
		"--http-addr=127.0.0.1:0", "--log-format=json", "--shutdown-grace=20s",
		"--max-record-bytes=64KiB", "--fetch-bytes=16KiB",
	}
	if apiURL != "" {
		args = append(args, `--enrich-when=category == "X"`, "--enrich-url="+apiURL)
	}
	return append(args, extra...)
}

// start runs the real binary with args.
func (e *env) start(t *testing.T, args []string) *proc {
	t.Helper()
	cmd := exec.Command(redriveBin, args...)
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+e.s3cfg.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+e.s3cfg.SecretAccessKey, "AWS_REGION=us-east-1")
	p := &proc{t: t, cmd: cmd, log: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan error, 1), exited: make(chan struct{})}
	w := lockedWriter{p.mu, p.log}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redrive: %v", err)
	}
	go func() {
		err := cmd.Wait()
		close(p.exited)
		p.done <- err
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill() //nolint:errcheck
			<-p.done
		}
		if t.Failed() {
			t.Logf("redrive log (last 40 lines):\n%s", p.tail(40))
		}
		if dir := os.Getenv("REDRIVE_TEST_LOGDIR"); dir != "" {
			// Whole logs, for a failure whose last lines do not tell.
			name := fmt.Sprintf("%s-%d.log", strings.ReplaceAll(t.Name(), "/", "_"), cmd.Process.Pid)
			p.mu.Lock()
			os.WriteFile(filepath.Join(dir, name), p.log.Bytes(), 0o644) //nolint:errcheck,gosec // best effort
			p.mu.Unlock()
		}
	})
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *proc) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(p.log.String()), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// kill stops the process the hard way (kill -9) and waits for it.
func (p *proc) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatalf("kill: %v", err)
	}
	<-p.done
}

// term sends SIGTERM and returns the exit error; the process itself
// enforces its grace period, the deadline here only stops a hung test.
func (p *proc) term(deadline time.Duration) error {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("term: %v", err)
	}
	select {
	case err := <-p.done:
		return err
	case <-time.After(deadline):
		p.t.Fatalf("redrive did not exit within %s of SIGTERM", deadline)
		return nil
	}
}

// report is what the output holds, by origin.
type report struct {
	inS3, parked map[origin]int
	parkedClass  map[origin]string
	missing      []origin
	duplicates   int // extra copies in S3 beyond the first
}

// check reads S3 and the parking topic and compares with what was produced.
func (e *env) check(t *testing.T, want produced) report {
	t.Helper()
	r := report{parked: map[origin]int{}, parkedClass: map[origin]string{}}
	r.inS3, _ = readS3(t, e.client, e.bucket)
	for _, p := range readTopic(t, e.brokers, e.parking()) {
		o := origin{p.Env.Origin.Topic, p.Env.Origin.Partition, p.Env.Origin.Offset}
		r.parked[o]++
		r.parkedClass[o] = p.Env.ErrorClass
	}
	for o := range want {
		if r.inS3[o] == 0 && r.parked[o] == 0 {
			r.missing = append(r.missing, o)
		}
	}
	for _, n := range r.inS3 {
		r.duplicates += n - 1
	}
	sort.Slice(r.missing, func(i, j int) bool { return r.missing[i].Offset < r.missing[j].Offset })
	return r
}

// waitComplete polls until every produced record is in S3 or parking.
func (e *env) waitComplete(t *testing.T, want produced, timeout time.Duration) report {
	t.Helper()
	var r report
	wait.For(t, timeout, "every record in S3 or parking", func() bool {
		r = e.check(t, want)
		return len(r.missing) == 0
	})
	return r
}

// waitFraction polls until at least frac of the records are in S3.
func (e *env) waitFraction(t *testing.T, want produced, frac float64, timeout time.Duration) {
	t.Helper()
	wait.For(t, timeout, fmt.Sprintf("%.0f%% of the records in S3", frac*100), func() bool {
		counts, _ := readS3(t, e.client, e.bucket)
		return float64(len(counts)) >= frac*float64(len(want))
	})
}

// committed returns the group's committed offsets of a topic, by partition.
func (e *env) committed(t *testing.T, topic string) map[int32]int64 {
	t.Helper()
	admin := newAdmin(t, e.brokers)
	defer admin.Close()
	resp, err := admin.ListConsumerGroupOffsets(e.group(), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for p, b := range resp.Blocks[topic] {
		out[p] = b.Offset
	}
	return out
}

// createTopics creates the input, DLQ and parking topics (4 partitions) so
// that the test can produce before redrive starts.
func (e *env) createTopics(t *testing.T, rf int16) {
	t.Helper()
	e.createTopicsWith(t, rf, nil)
}

// createTopicsWith is createTopics with a topic's configuration replaced:
// by default the DLQ and parking topics are what --create-topics makes
// (pipeline.DLQTopicConfig under the default retry policy,
// pipeline.ParkingTopicConfig).
func (e *env) createTopicsWith(t *testing.T, rf int16, configs map[string]map[string]*string) {
	t.Helper()
	admin := newAdmin(t, e.brokers)
	defer admin.Close()
	for _, name := range []string{e.topic(), e.dlq(), e.parking()} {
		detail := &sarama.TopicDetail{NumPartitions: 4, ReplicationFactor: rf}
		switch name {
		case e.dlq():
			detail.ConfigEntries = pipeline.DLQTopicConfig(0, dlq.Policy{})
		case e.parking():
			detail.ConfigEntries = pipeline.ParkingTopicConfig(0)
		}
		if c, ok := configs[name]; ok {
			detail.ConfigEntries = c
		}
		if err := admin.CreateTopic(name, detail, false); err != nil {
			t.Fatalf("creating %s: %v", name, err)
		}
	}
	wait.For(t, 30*time.Second, "topics to have leaders", func() bool {
		md, err := admin.DescribeTopics([]string{e.topic(), e.dlq(), e.parking()})
		if err != nil {
			return false
		}
		for _, m := range md {
			if m.Err != sarama.ErrNoError || len(m.Partitions) != 4 {
				return false
			}
			for _, p := range m.Partitions {
				if p.Leader < 0 {
					return false
				}
			}
		}
		return true
	})
}
