package pipeline

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/xdg-go/scram"
)

// Kafka says how to reach the cluster. It is shared by the pipeline and the
// DLQ inspector so that one environment serves both.
type Kafka struct {
	// Brokers is the bootstrap list. Required.
	Brokers []string
	// ClientID names redrive in broker logs and quotas. Default "redrive".
	ClientID string
	// Version is the Kafka protocol version sarama speaks. Default "3.6.0";
	// Kafka 4 removed the protocol versions older than 2.1 that sarama's own
	// default would use.
	Version string
	// TLS enables TLS to the brokers.
	TLS TLS
	// SASL enables SASL authentication.
	SASL SASL
}

// TLS configures TLS to the brokers. Files are PEM.
type TLS struct {
	Enabled            bool
	CAFile             string // extra CA bundle; empty uses the system pool
	CertFile, KeyFile  string // client certificate for mutual TLS; both or neither
	InsecureSkipVerify bool   // for test clusters only
}

// SASL configures SASL authentication. The password is never logged.
type SASL struct {
	// Mechanism is "" (off), "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512".
	Mechanism string
	User      string
	Password  string `json:"-"` // never serialised: slog's JSON handler ignores String()
}

// LogValue keeps the password out of structured logs.
func (s SASL) LogValue() slog.Value { return slog.StringValue(s.String()) }

// String hides the password when a config is printed.
func (s SASL) String() string {
	if s.Mechanism == "" {
		return "off"
	}
	return fmt.Sprintf("%s user=%s password=<redacted>", s.Mechanism, s.User)
}

// SetDefaults fills zero fields with their documented defaults.
func (k *Kafka) SetDefaults() {
	k.ClientID = cmp.Or(k.ClientID, "redrive")
	k.Version = cmp.Or(k.Version, "3.6.0")
}

// Validate reports the first setting that cannot work.
func (k Kafka) Validate() error {
	if len(k.Brokers) == 0 {
		return errors.New("brokers: at least one broker address is required")
	}
	for _, b := range k.Brokers {
		if !strings.Contains(b, ":") {
			return fmt.Errorf("brokers: %q has no port (want host:port)", b)
		}
	}
	if _, err := sarama.ParseKafkaVersion(k.Version); err != nil {
		return fmt.Errorf("kafka-version: %w", err)
	}
	if (k.TLS.CertFile == "") != (k.TLS.KeyFile == "") {
		return errors.New("tls-cert-file and tls-key-file: give both or neither")
	}
	switch k.SASL.Mechanism {
	case "":
	case sarama.SASLTypePlaintext, sarama.SASLTypeSCRAMSHA256, sarama.SASLTypeSCRAMSHA512:
		if k.SASL.User == "" || k.SASL.Password == "" {
			return fmt.Errorf("sasl-user and sasl-password: required with sasl-mechanism %s", k.SASL.Mechanism)
		}
	default:
		return fmt.Errorf("sasl-mechanism: %q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", k.SASL.Mechanism)
	}
	return nil
}

// SaramaConfig builds a fresh sarama config from goka's defaults (which keep
// goka's copartitioning rebalance strategy). Every caller gets its own copy:
// goka's builders write ClientID into the config they are given.
func (k Kafka) SaramaConfig() (*sarama.Config, error) {
	cfg := goka.DefaultConfig()
	cfg.ClientID = k.ClientID
	v, err := sarama.ParseKafkaVersion(k.Version)
	if err != nil {
		return nil, fmt.Errorf("kafka-version: %w", err)
	}
	cfg.Version = v
	// Only what producers committed is read: the records of an aborted
	// transaction (Kafka Streams or Flink with exactly-once, any
	// transactional.id) never happened and must not reach S3, and those of
	// an open one are read once it commits. Brokers older than 0.11 have
	// no transactions, and no read_committed to ask for.
	if v.IsAtLeast(sarama.V0_11_0_0) {
		cfg.Consumer.IsolationLevel = sarama.ReadCommitted
	}
	cfg.Metadata.Retry.Max = 10
	cfg.Metadata.Retry.Backoff = 500 * time.Millisecond
	if k.TLS.Enabled {
		tc, err := k.TLS.config()
		if err != nil {
			return nil, err
		}
		cfg.Net.TLS.Enable = true
		cfg.Net.TLS.Config = tc
	}
	if k.SASL.Mechanism != "" {
		cfg.Net.SASL.Enable = true
		cfg.Net.SASL.Handshake = true
		cfg.Net.SASL.User = k.SASL.User
		cfg.Net.SASL.Password = k.SASL.Password
		cfg.Net.SASL.Mechanism = sarama.SASLMechanism(k.SASL.Mechanism)
		switch k.SASL.Mechanism {
		case sarama.SASLTypeSCRAMSHA256:
			cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA256} }
		case sarama.SASLTypeSCRAMSHA512:
			cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA512} }
		}
	}
	return cfg, nil
}

func (t TLS) config() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // opt-in, for test clusters
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls-ca-file: %s holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls-cert-file/tls-key-file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// scramClient adapts xdg-go/scram to sarama.SCRAMClient.
type scramClient struct {
	hash scram.HashGeneratorFcn
	conv *scram.ClientConversation
}

func (c *scramClient) Begin(user, password, authzID string) error {
	cl, err := c.hash.NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	c.conv = cl.NewConversation()
	return nil
}

func (c *scramClient) Step(challenge string) (string, error) { return c.conv.Step(challenge) }
func (c *scramClient) Done() bool                            { return c.conv.Done() }
