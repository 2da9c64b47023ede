package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/internal/wait"
	"github.com/redrive-io/redrive/pipeline"
)

// timeoutErr is a network timeout as net returns it.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// Each connection failure gets a hint naming the flag most likely at
// fault; errors that did not come from the Kafka connection get none.
func TestKafkaHintNamesTheLikelyFlag(t *testing.T) {
	plain := pipeline.Kafka{}
	withTLS := pipeline.Kafka{TLS: pipeline.TLS{Enabled: true}}
	withSASL := pipeline.Kafka{SASL: pipeline.SASL{Mechanism: "SCRAM-SHA-512"}}
	out := func(errs ...error) error { return sarama.Wrap(sarama.ErrOutOfBrokers, errs...) }
	for _, tc := range []struct {
		name string
		err  error
		k    pipeline.Kafka
		want string // "" for no hint
	}{
		{"TLS to a plaintext listener (Kafka closes)", out(io.EOF), withTLS, "remove --tls"},
		{"TLS to a plaintext listener (no answer)", out(&net.OpError{Op: "read", Err: timeoutErr{}}), withTLS, "remove --tls"},
		{"plaintext to a TLS or SASL listener", out(io.EOF), plain, "add --tls"},
		{"plaintext to a TLS or SASL listener", out(io.EOF), plain, "--sasl-mechanism"},
		{"TLS to a plaintext listener (reset)", out(&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), withTLS, "remove --tls"},
		{"SASL set, listener TLS", out(io.ErrUnexpectedEOF), withSASL, "add --tls"},
		{"SASL credentials refused", out(sarama.ErrSASLAuthenticationFailed), withSASL, "--sasl-user"},
		{"SASL credentials refused, unwrapped", fmt.Errorf("x: %w", sarama.ErrSASLAuthenticationFailed), withSASL, "--sasl-mechanism"},
		{"SASL mechanism not offered", out(sarama.ErrUnsupportedSASLMechanism), withSASL, `--sasl-mechanism "SCRAM-SHA-512"`},
		{"TLS answered in plaintext", out(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), withTLS, "remove --tls"},
		{"unknown CA", out(x509.UnknownAuthorityError{}), withTLS, "--tls-ca-file"},
		{"wrong host", out(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "k"}), withTLS, "--tls-ca-file"},
		{"refused", out(&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), plain, "--brokers"},
		{"out of brokers, nothing else known", out(errors.New("something")), plain, "--tls and --sasl-mechanism"},
		{"an S3 EOF is not Kafka's", fmt.Errorf("s3-bucket: %w", io.EOF), plain, ""},
		{"an S3 certificate error is not Kafka's", fmt.Errorf("s3: %w", x509.UnknownAuthorityError{}), withTLS, ""},
		{"no error", nil, plain, ""},
	} {
		got := kafkaHint(tc.err, tc.k)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: hint %q, want one containing %q", tc.name, got, tc.want)
		}
	}
	if err := withKafkaHint(out(io.EOF), plain); !errors.Is(err, sarama.ErrOutOfBrokers) || !strings.Contains(err.Error(), "(hint: ") {
		t.Errorf("withKafkaHint: %v: the cause must stay wrapped and the hint be shown", err)
	}
}

// The hint reaches the user of `redrive dlq` when the listener speaks
// another protocol: a plaintext client against a TLS listener, and a TLS
// client against a listener that, like Kafka's plaintext one, closes the
// connection on bytes that are not a request.
func TestKafkaHintThroughTheBinary(t *testing.T) {
	tlsLn := tlsListener(t)
	plainLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for _, ln := range []net.Listener{tlsLn, plainLn} {
		t.Cleanup(func() { ln.Close() })
		go closeAfterFirstRead(ln)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--brokers=" + tlsLn.Addr().String()}, "add --tls"},
		{[]string{"--brokers=" + plainLn.Addr().String(), "--tls", "--tls-insecure-skip-verify"}, "remove --tls"},
	} {
		args := append([]string{"dlq", "stats", "--input-topic=orders"}, tc.args...)
		t.Setenv("REDRIVE_INPUT_TOPIC", "")
		err := run(context.Background(), args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want a hint containing %q", tc.args, err, tc.want)
		}
	}
}

// closeAfterFirstRead accepts connections and closes each after reading
// what the client sent first, as a broker does with bytes it cannot parse.
func closeAfterFirstRead(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			b := make([]byte, 512)
			conn.Read(b) //nolint:errcheck // any outcome ends the connection
		}()
	}
}

// redrive run waits for Kafka at start-up instead of exiting (invariant 8),
// and says on the WARN line what the likely flag at fault is; SIGTERM
// during the wait is a clean stop.
func TestRunWaitsForKafkaWithAHint(t *testing.T) {
	ln := tlsListener(t)
	t.Cleanup(func() { ln.Close() })
	go closeAfterFirstRead(ln)
	var stderr wait.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--brokers=" + ln.Addr().String(), "--input-topic=orders", "--s3-bucket=b", "--http-addr=off"}, io.Discard, &stderr)
	}()
	wait.For(t, time.Minute, "the start-up wait to be logged with its hint", func() bool {
		return strings.Contains(stderr.String(), "waiting for Kafka at start-up") && strings.Contains(stderr.String(), "add --tls")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("a stop while waiting for Kafka returned %v, want a clean stop", err)
	}
}

// tlsListener listens on loopback with a test certificate, as a TLS-only
// Kafka listener would.
func tlsListener(t *testing.T) net.Listener {
	t.Helper()
	pair := testCertPEM(t)
	cert, err := tls.X509KeyPair(pair.cert, pair.key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
