package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeConfig writes a config file and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "redrive.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// --config FILE fills what neither a flag nor a REDRIVE_* variable sets:
// flags win over the environment, which wins over the file, which wins
// over the defaults.
func TestConfigFilePrecedence(t *testing.T) {
	clearRedriveEnv(t)
	cfg := writeConfig(t, `
brokers: [a:9092, b:9092]
group: from-file
input-topic: from-file
batch-max-bytes: 4MiB
batch-max-age: 45s
s3-bucket: bucket
s3-path-style: true
max-attempts: 7
`)
	t.Setenv("REDRIVE_GROUP", "from-env")
	t.Setenv("REDRIVE_MAX_ATTEMPTS", "9")
	topo, err := parseRunArgs([]string{"--config", cfg, "--input-topic=from-flag", "--max-attempts=11"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"brokers (file)", strings.Join(topo.Kafka.Brokers, ","), "a:9092,b:9092"},
		{"group (env over file)", topo.Pipeline.Group, "from-env"},
		{"input-topic (flag over file)", topo.Pipeline.InputTopic, "from-flag"},
		{"max-attempts (flag over env)", topo.Pipeline.Retry.MaxAttempts, 11},
		{"batch-max-bytes (file)", topo.Sink.MaxBytes, 4 << 20},
		{"batch-max-age (file)", topo.Sink.MaxAge, 45 * time.Second},
		{"s3-path-style (file)", topo.S3.Client.PathStyle, true},
		{"batch-max-records (default)", topo.Sink.MaxRecords, runDefaults().Sink.MaxRecords},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	// REDRIVE_CONFIG names the file too.
	t.Setenv("REDRIVE_CONFIG", cfg)
	if topo, err := parseRunArgs(nil); err != nil || topo.Sink.MaxBytes != 4<<20 {
		t.Errorf("REDRIVE_CONFIG: %v, batch-max-bytes %d", err, topo.Sink.MaxBytes)
	}
}

// A config file's mistakes name the key.
func TestConfigFileErrorsNameTheKey(t *testing.T) {
	clearRedriveEnv(t)
	for _, tc := range []struct{ text, want string }{
		{"brokerz: a:9092\n", "brokerz"},
		{"batch-max-bytes: lots\n", "batch-max-bytes"},
		{"kafka:\n  brokers: a:9092\n", "kafka"},
		{"brokers: [a:9092, null]\n", "brokers"},
		{"- a\n- b\n", "mapping"},
	} {
		_, err := parseRunArgs([]string{"--config", writeConfig(t, tc.text)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want it to name %q", tc.text, err, tc.want)
		}
	}
	if _, err := parseRunArgs(append([]string{"--config", "/does/not/exist.yaml"}, minimalRun...)); err == nil || !strings.Contains(err.Error(), "exist.yaml") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := parseRunArgs(append([]string{"--config", writeConfig(t, "")}, minimalRun...)); err != nil {
		t.Errorf("empty file: %v", err)
	}
}

// --print-config prints the effective configuration as YAML that --config
// reads back to the same topology, with secrets redacted, and exits 0.
func TestPrintConfig(t *testing.T) {
	clearRedriveEnv(t)
	cfg := writeConfig(t, "brokers: [a:9092, b:9092]\nbatch-max-age: 45s\n")
	t.Setenv("REDRIVE_GROUP", "from-env")
	args := []string{"--config", cfg, "--input-topic=orders", "--s3-bucket=b", "--enrich-when", `category == "X" && amount > 1`,
		"--enrich-url=http://api/{id}", "--start-offset=latest", "--s3-prefix=a b/c"}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), append([]string{"run", "--print-config"}, args...), &out, &errOut); err != nil {
		t.Fatalf("--print-config: %v (stderr %s)", err, errOut.String())
	}
	printed := out.String()
	for _, want := range []string{"\nbrokers: \"a:9092,b:9092\"\n", "\ngroup: from-env\n", "\ndlq-topic: orders.dlq\n", "\nbatch-max-age: \"45s\"\n", "\nstart-offset: newest\n"} {
		if !strings.Contains(printed, want) {
			t.Errorf("printed config lacks %q:\n%s", strings.TrimSpace(want), printed)
		}
	}
	want, err := parseRunArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	clearRedriveEnv(t)
	got, err := parseRunArgs([]string{"--config", writeConfig(t, printed)})
	if err != nil {
		t.Fatalf("the printed config does not read back: %v\n%s", err, printed)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back:\n%+v\nwant:\n%+v", got, want)
	}
}

// Secrets never appear in --print-config: the SASL password and the
// enrichment headers show as redacted, from flags, env or the file.
func TestPrintConfigRedactsSecrets(t *testing.T) {
	clearRedriveEnv(t)
	t.Setenv("REDRIVE_SASL_PASSWORD", "hunter2")
	cfg := writeConfig(t, "enrich-header: [\"Authorization: Bearer t0ken\"]\n")
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"run", "--print-config", "--config", cfg, "--sasl-mechanism=PLAIN", "--sasl-user=u",
		"--enrich-when=true", "--enrich-url=http://x"}, minimalRun...), &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2", "t0ken", "Bearer"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("--print-config shows %q:\n%s", secret, out.String())
		}
	}
	for _, want := range []string{`sasl-password: "<redacted>"`, `enrich-header: "<redacted>"`, "sasl-user: u"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--print-config lacks %q:\n%s", want, out.String())
		}
	}
}

// One file serves run and dlq: dlq skips the settings of run it does not
// have, and still refuses a key that is no flag at all.
func TestDLQReadsARunConfigFile(t *testing.T) {
	clearRedriveEnv(t)
	cfg := writeConfig(t, "brokers: 127.0.0.1:1\ninput-topic: orders\ns3-bucket: b\nbatch-max-age: 45s\n")
	err := run(context.Background(), []string{"dlq", "stats", "--config", cfg}, io.Discard, io.Discard)
	if err == nil || strings.Contains(err.Error(), "config") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("dlq stats with a run config: %v, want a connection error to the file's broker", err)
	}
	bad := writeConfig(t, "brokers: 127.0.0.1:1\nbrokerz: x\n")
	err = run(context.Background(), []string{"dlq", "stats", "--config", bad}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "brokerz") {
		t.Errorf("dlq stats with a typo in the config: %v", err)
	}
}

// Values are taken as written, not as YAML 1.1 types them: the documented
// `http-addr: off` stays "off" (YAML 1.1 reads false), a prefix "no" stays
// "no", and a boolean flag still takes true.
func TestConfigFileValuesAreTakenAsWritten(t *testing.T) {
	clearRedriveEnv(t)
	cfg := writeConfig(t, "brokers: [k:9092]\ninput-topic: orders\ns3-bucket: b\nhttp-addr: off\ns3-prefix: no\ncreate-topics: true\npartition-layout: daily\n")
	topo, err := parseRunArgs([]string{"--config", cfg})
	if err != nil {
		t.Fatal(err)
	}
	if topo.HTTPAddr != "off" || topo.Sink.Prefix != "no" || !topo.Topics.Create || topo.Sink.PartitionLayout != "daily" {
		t.Fatalf("http-addr %q, s3-prefix %q, create-topics %v, partition-layout %q; want off, no, true, daily",
			topo.HTTPAddr, topo.Sink.Prefix, topo.Topics.Create, topo.Sink.PartitionLayout)
	}
	if _, err := parseRunArgs([]string{"--config", writeConfig(t, "brokers: [k:9092]\ninput-topic: a\ninput-topic: b\ns3-bucket: b\n")}); err == nil || !strings.Contains(err.Error(), "input-topic: given twice") {
		t.Fatalf("a key given twice: %v", err)
	}
}
