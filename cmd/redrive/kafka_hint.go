package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/pipeline"
)

// kafkaHint names the flag most likely at fault when connecting to Kafka
// failed, or returns "" when it has no better idea than the error itself.
// The errors sarama gives for a listener of another security protocol say
// little: Kafka closes the connection on bytes it cannot read, so TLS to a
// plaintext listener and plaintext to a TLS listener both end in a bare EOF
// (or a reset, when the broker closes with bytes unread),
// and once every broker was tried the error is "client has run out of
// available brokers to talk to".
//
// Only errors that come from sarama's connection to the brokers get a
// hint: an EOF or a certificate error from S3 or the enrichment API must
// not send anyone to the Kafka flags.
func kafkaHint(err error, k pipeline.Kafka) string {
	switch {
	case errors.Is(err, sarama.ErrSASLAuthenticationFailed):
		return "the broker refused the SASL credentials: check --sasl-user, the password (--sasl-password-file or REDRIVE_SASL_PASSWORD) and --sasl-mechanism"
	case errors.Is(err, sarama.ErrUnsupportedSASLMechanism):
		return fmt.Sprintf("the broker does not offer --sasl-mechanism %q on this listener", k.SASL.Mechanism)
	case !errors.Is(err, sarama.ErrOutOfBrokers):
		return ""
	}
	var (
		recordHeader tls.RecordHeaderError
		unknownCA    x509.UnknownAuthorityError
		hostname     x509.HostnameError
		invalid      x509.CertificateInvalidError
		verify       *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &recordHeader):
		return "the broker did not answer the TLS handshake with TLS: its listener is plaintext; remove --tls or use the TLS listener's port"
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return "the broker's certificate was not accepted: give its CA with --tls-ca-file (--tls-insecure-skip-verify only on test clusters)"
	case k.TLS.Enabled && isTimeout(err):
		return "no answer to the TLS handshake: the listener may be plaintext (remove --tls, or use the TLS listener's port) or unreachable (check --brokers)"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing listens there: check the host:port of --brokers"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET):
		if k.TLS.Enabled {
			return "the broker closed the connection during the TLS handshake: its listener is likely plaintext; remove --tls or use the TLS listener's port (or, if it expects SASL, set --sasl-mechanism)"
		}
		if k.SASL.Mechanism == "" {
			return "the broker closed the connection: if its listener expects TLS, add --tls; if it expects SASL, set --sasl-mechanism"
		}
		return "the broker closed the connection: if its listener expects TLS, add --tls; check that it offers --sasl-mechanism " + k.SASL.Mechanism
	}
	return "no broker could be reached: check --brokers, and that --tls and --sasl-mechanism match the listener's security protocol"
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// withKafkaHint appends kafkaHint's advice to err, keeping it wrapped.
func withKafkaHint(err error, k pipeline.Kafka) error {
	if h := kafkaHint(err, k); h != "" {
		return fmt.Errorf("%w (hint: %s)", err, h)
	}
	return err
}
