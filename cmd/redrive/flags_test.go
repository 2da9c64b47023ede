package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/peterbourgon/ff/v4"
)

// minimalRun is the smallest valid `redrive run` command line.
var minimalRun = []string{"--brokers=k:9092", "--input-topic=orders", "--s3-bucket=b"}

// Every flag of `redrive run` names its env var in --help and appears,
// with it, in the README's flags table.
func TestEveryRunFlagHasAnEnvVarAndIsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var c runConfig
	fs := newFlagSet("run")
	bindRunFlags(fs, &c)
	n := 0
	fs.WalkFlags(func(f ff.Flag) error { //nolint:errcheck // the callback never fails
		n++
		name, _ := f.GetLongName()
		env := envName(name)
		if !strings.Contains(f.GetUsage(), env) {
			t.Errorf("--%s: help does not name %s", name, env)
		}
		if !bytes.Contains(readme, []byte("`--"+name+"` | `"+env+"`")) {
			t.Errorf("--%s (%s) is missing from the README's flags table", name, env)
		}
		return nil
	})
	if n < 40 {
		t.Fatalf("only %d flags walked", n)
	}
}

func TestEnvVarsFillTheTopology(t *testing.T) {
	t.Setenv("REDRIVE_BROKERS", "a:9092, b:9092")
	t.Setenv("REDRIVE_INPUT_TOPIC", "orders")
	t.Setenv("REDRIVE_S3_BUCKET", "bucket")
	t.Setenv("REDRIVE_BATCH_MAX_BYTES", "4MiB")
	t.Setenv("REDRIVE_RETRY_BASE", "3s")
	t.Setenv("REDRIVE_ENRICH_WHEN", `category == "X"`)
	t.Setenv("REDRIVE_ENRICH_URL", "http://api/enrich")
	t.Setenv("REDRIVE_ENRICH_HEADER", "Authorization: Bearer t0ken")
	topo, err := parseRunArgs([]string{"--group=from-flag"})
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case strings.Join(topo.Kafka.Brokers, ",") != "a:9092,b:9092":
		t.Errorf("brokers %v", topo.Kafka.Brokers)
	case topo.Pipeline.InputTopic != "orders" || topo.Pipeline.DLQTopic != "orders.dlq" || topo.Pipeline.ParkingTopic != "orders.parking":
		t.Errorf("topics %q %q %q", topo.Pipeline.InputTopic, topo.Pipeline.DLQTopic, topo.Pipeline.ParkingTopic)
	case topo.Pipeline.Group != "from-flag":
		t.Errorf("group %q: the flag must win over the default", topo.Pipeline.Group)
	case topo.Sink.MaxBytes != 4<<20:
		t.Errorf("batch-max-bytes %d", topo.Sink.MaxBytes)
	case topo.Pipeline.Retry.Base != 3*time.Second:
		t.Errorf("retry-base %s", topo.Pipeline.Retry.Base)
	case topo.Enrich.Client.Headers["Authorization"] != "Bearer t0ken":
		t.Errorf("headers %v", topo.Enrich.Client.Headers)
	case topo.Pipeline.EnrichWorkers != topo.Enrich.Client.Concurrency:
		t.Errorf("enrich workers %d, concurrency %d", topo.Pipeline.EnrichWorkers, topo.Enrich.Client.Concurrency)
	}
}

// --compression takes zstd beside gzip and none, from the flag or its env var.
func TestCompressionFlagAcceptsZstd(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{minimalRun, "", "gzip"},
		{append([]string{"--compression=zstd"}, minimalRun...), "", "zstd"},
		{append([]string{"--compression=none"}, minimalRun...), "", "none"},
		{minimalRun, "zstd", "zstd"},
	} {
		if tc.env != "" {
			t.Setenv("REDRIVE_COMPRESSION", tc.env)
		}
		topo, err := parseRunArgs(tc.args)
		if err != nil {
			t.Fatalf("%v (env %q): %v", tc.args, tc.env, err)
		}
		if err := topo.Sink.Validate(); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if topo.Sink.Compression != tc.want {
			t.Errorf("%v (env %q): compression %q, want %q", tc.args, tc.env, topo.Sink.Compression, tc.want)
		}
	}
}

// --partition-time and --partition-layout reach the topology from the flag
// or the env var, with record and hourly as defaults.
func TestPartitionTimeFlags(t *testing.T) {
	for _, tc := range []struct {
		args              []string
		env               map[string]string
		wantTime, wantLay string
	}{
		{minimalRun, nil, "record", "hourly"},
		{append([]string{"--partition-time=field:event_ts", "--partition-layout=daily"}, minimalRun...), nil, "field:event_ts", "daily"},
		{minimalRun, map[string]string{"REDRIVE_PARTITION_TIME": "processing", "REDRIVE_PARTITION_LAYOUT": "daily"}, "processing", "daily"},
	} {
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		topo, err := parseRunArgs(tc.args)
		if err != nil {
			t.Fatalf("%v (env %v): %v", tc.args, tc.env, err)
		}
		if topo.Pipeline.PartitionTime != tc.wantTime || topo.Sink.PartitionLayout != tc.wantLay {
			t.Errorf("%v (env %v): partition time %q, layout %q; want %q, %q", tc.args, tc.env,
				topo.Pipeline.PartitionTime, topo.Sink.PartitionLayout, tc.wantTime, tc.wantLay)
		}
	}
}

// Bad flags stop start-up with a message that names the flag at fault.
func TestBadFlagsNameTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--input-topic=o", "--s3-bucket=b"}, "brokers"},
		{[]string{"--brokers=k", "--input-topic=o", "--s3-bucket=b"}, "brokers"},
		{[]string{"--brokers=k:9092", "--s3-bucket=b"}, "input-topic"},
		{[]string{"--brokers=k:9092", "--input-topic=o"}, "s3-bucket"},
		{append([]string{"--output-dir=/tmp/x"}, minimalRun...), "output-dir"},
		{append([]string{"--start-offset=middle"}, minimalRun...), "start-offset"},
		{append([]string{"--batch-max-bytes=lots"}, minimalRun...), "batch-max-bytes"},
		{append([]string{"--enrich-when=category == 'X'"}, minimalRun...), "enrich-url"},
		{append([]string{"--enrich-url=http://x"}, minimalRun...), "enrich-when"},
		{append([]string{"--enrich-when=category ==", "--enrich-url=http://x"}, minimalRun...), "enrich-when"},
		{append([]string{"--enrich-when=amount + 1", "--enrich-url=http://x"}, minimalRun...), "enrich-when"},
		{append([]string{"--retry-base=1m", "--retry-max-delay=1s"}, minimalRun...), "retry"},
		{append([]string{"--sasl-mechanism=GSSAPI"}, minimalRun...), "sasl-mechanism"},
		{append([]string{"--sasl-mechanism=PLAIN", "--sasl-user=u"}, minimalRun...), "sasl-password"},
		{append([]string{"--tls-cert-file=c.pem"}, minimalRun...), "tls-key-file"},
		{append([]string{"--sasl-password-file=/does/not/exist"}, minimalRun...), "sasl-password-file"},
		{append([]string{"--enrich-header=no-colon", "--enrich-when=true", "--enrich-url=http://x"}, minimalRun...), "enrich-header"},
		{append([]string{"--max-pending-bytes-total=64KiB"}, minimalRun...), "max-pending-bytes-total"},
		{append([]string{"--max-pending=-1"}, minimalRun...), "max-pending"},
		{append([]string{"--log-level=loud"}, minimalRun...), "log-level"},
		{append([]string{"--dlq-topic=orders"}, minimalRun...), "dlq-topic"},
		{append([]string{"--shutdown-grace=10ms"}, minimalRun...), "shutdown-grace"},
		{append([]string{"--compression=lz4"}, minimalRun...), "ompression"},
		{append([]string{"--partition-time=event"}, minimalRun...), "partition-time: "},
		{append([]string{"--partition-time=field:"}, minimalRun...), "partition-time: "},
		{append([]string{"--partition-layout=weekly"}, minimalRun...), "partition-layout: "},
		{append([]string{"--tombstones=delete"}, minimalRun...), "tombstones: "},
		{append([]string{"--s3-sse=kms"}, minimalRun...), "s3-sse: "},
		{append([]string{"--s3-sse-kms-key-id=k"}, minimalRun...), "s3-sse-kms-key-id: "},
	} {
		_, err := parseRunArgs(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want it to name %q", tc.args, err, tc.want)
		}
	}
	if _, err := parseRunArgs(minimalRun); err != nil {
		t.Fatalf("minimal command line rejected: %v", err)
	}
}

// A secret given in a header never appears in an error about it.
func TestHeaderErrorsDoNotEchoSecrets(t *testing.T) {
	_, err := parseRunArgs(append([]string{"--enrich-header=Bearer s3cr3t", "--enrich-when=true", "--enrich-url=http://x"}, minimalRun...))
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("err = %v", err)
	}
}

// The binary's exit paths: --help is not an error, an unknown flag is a
// usage error (exit 2) and says which flag.
func TestRunExitCodes(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"run", "--help"}, &out, &errOut)
	if !errors.Is(err, ff.ErrHelp) || exitCode(err) != 0 || !strings.Contains(errOut.String(), "--enrich-when") {
		t.Fatalf("--help: err=%v code=%d help=%q", err, exitCode(err), errOut.String())
	}
	errOut.Reset()
	err = run(context.Background(), []string{"run", "--bogus"}, &out, &errOut)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("--bogus: err=%v code=%d", err, exitCode(err))
	}
	err = run(context.Background(), []string{"run", "--brokers=k:9092", "--s3-bucket=b"}, &out, &errOut)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "input-topic") {
		t.Fatalf("missing input topic: err=%v code=%d", err, exitCode(err))
	}
}

// intValue refuses what does not fit its type instead of wrapping it.
func TestIntValueRefusesWhatDoesNotFit(t *testing.T) {
	var p int16
	var u uint32
	for _, tc := range []struct {
		v    interface{ Set(string) error }
		in   string
		fits bool
	}{
		{intValue[int16]{&p}, "3", true}, {intValue[int16]{&p}, "40000", false}, {intValue[int16]{&p}, "x", false},
		{intValue[uint32]{&u}, "5", true}, {intValue[uint32]{&u}, "-3", false},
	} {
		if err := tc.v.Set(tc.in); (err == nil) != tc.fits {
			t.Errorf("Set(%q) = %v, want fits=%v", tc.in, err, tc.fits)
		}
	}
	if p != 3 || u != 5 {
		t.Errorf("values %d and %d, want 3 and 5", p, u)
	}
}
