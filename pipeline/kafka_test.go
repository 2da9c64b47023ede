package pipeline

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
)

// These tests prove that the Kafka settings the flags fill (--tls*,
// --sasl-*) really reach the wire: a sarama client built by
// Kafka.SaramaConfig authenticates against kfake, a broker that speaks the
// real protocol, and is refused when a credential is wrong.

// kafkaTestTopic is seeded in every fake cluster so that a metadata request
// has something to describe.
const kafkaTestTopic = "events"

// connect builds a sarama client from k and asks for the test topic's
// partitions: it only succeeds if TLS and SASL both worked.
func connect(t *testing.T, k Kafka) error {
	t.Helper()
	cfg, err := k.SaramaConfig()
	if err != nil {
		return fmt.Errorf("SaramaConfig: %w", err)
	}
	// Fail fast: the production config retries metadata for seconds, which
	// would only slow down the cases that are meant to fail.
	cfg.Metadata.Retry.Max = 0
	cfg.Net.DialTimeout = 5 * time.Second
	cl, err := sarama.NewClient(k.Brokers, cfg)
	if err != nil {
		return err
	}
	defer cl.Close()
	parts, err := cl.Partitions(kafkaTestTopic)
	if err != nil {
		return err
	}
	if len(parts) != 2 {
		return fmt.Errorf("topic %s: %d partitions, want 2", kafkaTestTopic, len(parts))
	}
	return nil
}

// refusedAtLogin reports whether err is a broker refusing a SASL login. A
// real broker answers SASL_AUTHENTICATION_FAILED; kfake closes the
// connection instead, which sarama reports as EOF. Either way it is the
// same cluster that accepted the right password a moment before.
func refusedAtLogin(err error) bool {
	return errors.Is(err, sarama.ErrSASLAuthenticationFailed) || errors.Is(err, io.EOF)
}

func newFakeCluster(t *testing.T, opts ...kfake.Opt) []string {
	t.Helper()
	opts = append(opts, kfake.NumBrokers(1), kfake.SeedTopics(2, kafkaTestTopic))
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// TestSaramaConfigSASL proves that each SASL mechanism of --sasl-mechanism
// authenticates with the right password and is refused with a wrong one
// (so the client really sends the credentials, through the mechanism named).
func TestSaramaConfigSASL(t *testing.T) {
	for _, mech := range []string{sarama.SASLTypePlaintext, sarama.SASLTypeSCRAMSHA256, sarama.SASLTypeSCRAMSHA512} {
		t.Run(mech, func(t *testing.T) {
			brokers := newFakeCluster(t, kfake.EnableSASL(), kfake.Superuser(mech, "redrive", "s3cret"))
			ok := Kafka{Brokers: brokers, SASL: SASL{Mechanism: mech, User: "redrive", Password: "s3cret"}}
			ok.SetDefaults()
			if err := ok.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if err := connect(t, ok); err != nil {
				t.Fatalf("right password: %v", err)
			}

			bad := ok
			bad.SASL.Password = "wrong"
			err := connect(t, bad)
			if err == nil {
				t.Fatal("wrong password: connected, want an authentication failure")
			}
			if !refusedAtLogin(err) {
				t.Fatalf("wrong password: %v, want the broker to refuse the login", err)
			}

			none := ok
			none.SASL = SASL{}
			if err := connect(t, none); err == nil {
				t.Fatal("no SASL: connected to a cluster that requires it; the broker is not checking")
			}
		})
	}
}

// TestSaramaConfigSASLMechanismMismatch proves the mechanism is the one
// named: a SCRAM-SHA-512 user cannot log in with SCRAM-SHA-256.
func TestSaramaConfigSASLMechanismMismatch(t *testing.T) {
	brokers := newFakeCluster(t, kfake.EnableSASL(), kfake.Superuser(sarama.SASLTypeSCRAMSHA512, "redrive", "s3cret"))
	k := Kafka{Brokers: brokers, SASL: SASL{Mechanism: sarama.SASLTypeSCRAMSHA256, User: "redrive", Password: "s3cret"}}
	k.SetDefaults()
	if err := connect(t, k); err == nil {
		t.Fatal("SCRAM-SHA-256 logged in as a SCRAM-SHA-512 user")
	}
}

// testPKI is a CA and the certificates it signed, written as PEM files.
type testPKI struct {
	caFile                string
	serverCert            tls.Certificate
	clientCert, clientKey string
	pool                  *x509.CertPool
}

// newTestPKI generates a self-signed CA, a server certificate for
// 127.0.0.1 and a client certificate, all signed by that CA.
func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "redrive test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	p := testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.caFile = writePEM(t, dir, "ca.crt", "CERTIFICATE", caDER)

	srvDER, srvKey := sign(2, "broker", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	p.serverCert = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}

	cliDER, cliKey := sign(3, "redrive", x509.ExtKeyUsageClientAuth, nil)
	p.clientCert = writePEM(t, dir, "tls.crt", "CERTIFICATE", cliDER)
	keyDER, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	p.clientKey = writePEM(t, dir, "tls.key", "EC PRIVATE KEY", keyDER)
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSaramaConfigTLS proves that --tls-ca-file makes a broker signed by a
// private CA trusted, that without it the same broker is refused (the
// certificate really is verified), and that --tls-insecure-skip-verify
// skips the check.
func TestSaramaConfigTLS(t *testing.T) {
	pki := newTestPKI(t)
	brokers := newFakeCluster(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{pki.serverCert}, MinVersion: tls.VersionTLS12}))

	k := Kafka{Brokers: brokers, TLS: TLS{Enabled: true, CAFile: pki.caFile}}
	k.SetDefaults()
	if err := connect(t, k); err != nil {
		t.Fatalf("with --tls-ca-file: %v", err)
	}

	noCA := k
	noCA.TLS.CAFile = ""
	err := connect(t, noCA)
	if err == nil {
		t.Fatal("without --tls-ca-file: connected to a broker signed by an unknown CA")
	}
	var unknownCA x509.UnknownAuthorityError
	if !errors.As(err, &unknownCA) {
		t.Fatalf("without --tls-ca-file: %v, want x509.UnknownAuthorityError", err)
	}

	skip := noCA
	skip.TLS.InsecureSkipVerify = true
	if err := connect(t, skip); err != nil {
		t.Fatalf("with --tls-insecure-skip-verify: %v", err)
	}

	plain := k
	plain.TLS = TLS{}
	if err := connect(t, plain); err == nil {
		t.Fatal("without --tls: a plaintext client talked to a TLS listener")
	}
}

// TestSaramaConfigMutualTLS proves that --tls-cert-file and --tls-key-file
// present a client certificate: a broker that requires one accepts the
// client with it and refuses it without.
func TestSaramaConfigMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	brokers := newFakeCluster(t, kfake.TLS(&tls.Config{
		Certificates: []tls.Certificate{pki.serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.pool,
		MinVersion:   tls.VersionTLS12,
	}))
	k := Kafka{Brokers: brokers, TLS: TLS{Enabled: true, CAFile: pki.caFile, CertFile: pki.clientCert, KeyFile: pki.clientKey}}
	k.SetDefaults()
	if err := k.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if err := connect(t, k); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	noCert := k
	noCert.TLS.CertFile, noCert.TLS.KeyFile = "", ""
	if err := connect(t, noCert); err == nil {
		t.Fatal("without a client certificate: connected to a broker that requires one")
	}
}

// TestSaramaConfigTLSAndSASL proves the combination most managed clusters
// use (SASL over TLS) works: both layers are configured together.
func TestSaramaConfigTLSAndSASL(t *testing.T) {
	pki := newTestPKI(t)
	brokers := newFakeCluster(t,
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{pki.serverCert}, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(), kfake.Superuser(sarama.SASLTypeSCRAMSHA512, "redrive", "s3cret"))
	k := Kafka{
		Brokers: brokers,
		TLS:     TLS{Enabled: true, CAFile: pki.caFile},
		SASL:    SASL{Mechanism: sarama.SASLTypeSCRAMSHA512, User: "redrive", Password: "s3cret"},
	}
	k.SetDefaults()
	if err := connect(t, k); err != nil {
		t.Fatalf("SCRAM-SHA-512 over TLS: %v", err)
	}
	k.SASL.Password = "wrong"
	if err := connect(t, k); !refusedAtLogin(err) {
		t.Fatalf("wrong password over TLS: %v, want the broker to refuse the login", err)
	}
}

// TestKafkaValidateNamesTheFlag proves each invalid setting is reported
// with the flag to fix, before anything connects.
func TestKafkaValidateNamesTheFlag(t *testing.T) {
	base := Kafka{Brokers: []string{"b:9092"}}
	base.SetDefaults()
	for _, tc := range []struct {
		name string
		edit func(*Kafka)
		want string // "" means valid
	}{
		{"defaults", func(*Kafka) {}, ""},
		{"no brokers", func(k *Kafka) { k.Brokers = nil }, "brokers"},
		{"broker without port", func(k *Kafka) { k.Brokers = []string{"kafka"} }, "brokers"},
		{"bad version", func(k *Kafka) { k.Version = "three" }, "kafka-version"},
		{"cert without key", func(k *Kafka) { k.TLS.CertFile = "c.pem" }, "tls-cert-file and tls-key-file"},
		{"key without cert", func(k *Kafka) { k.TLS.KeyFile = "k.pem" }, "tls-cert-file and tls-key-file"},
		{"unknown mechanism", func(k *Kafka) { k.SASL = SASL{Mechanism: "GSSAPI", User: "u", Password: "p"} }, "sasl-mechanism"},
		{"lower-case mechanism", func(k *Kafka) { k.SASL = SASL{Mechanism: "plain", User: "u", Password: "p"} }, "sasl-mechanism"},
		{"mechanism without user", func(k *Kafka) { k.SASL = SASL{Mechanism: "PLAIN", Password: "p"} }, "sasl-user"},
		{"mechanism without password", func(k *Kafka) { k.SASL = SASL{Mechanism: "SCRAM-SHA-512", User: "u"} }, "sasl-password"},
		{"valid SASL", func(k *Kafka) { k.SASL = SASL{Mechanism: "SCRAM-SHA-256", User: "u", Password: "p"} }, ""},
		{"valid mTLS", func(k *Kafka) { k.TLS = TLS{Enabled: true, CertFile: "c", KeyFile: "k"} }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := base
			tc.edit(&k)
			err := k.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v, want nil", err)
			case tc.want != "" && err == nil:
				t.Fatalf("Validate: nil, want an error naming %s", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want+" ") && !strings.Contains(err.Error(), tc.want+":"):
				t.Fatalf("Validate: %q, want it to name the flag %q", err, tc.want)
			}
		})
	}
}

// TestSaramaConfigTLSFileErrors proves an unreadable or empty TLS file is
// reported with its flag when the config is built, not as a handshake
// failure later.
func TestSaramaConfigTLSFileErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tls  TLS
		want string
	}{
		{"missing CA file", TLS{Enabled: true, CAFile: filepath.Join(dir, "nope.pem")}, "tls-ca-file"},
		{"CA file without PEM", TLS{Enabled: true, CAFile: garbage}, "tls-ca-file"},
		{"bad client pair", TLS{Enabled: true, CertFile: garbage, KeyFile: garbage}, "tls-cert-file/tls-key-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := Kafka{Brokers: []string{"b:9092"}, TLS: tc.tls}
			k.SetDefaults()
			_, err := k.SaramaConfig()
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("SaramaConfig: %v, want an error starting with %q", err, tc.want)
			}
		})
	}
}

// TestSASLPasswordNeverPrinted proves the password does not appear when a
// Kafka config is printed with fmt or logged as a string.
func TestSASLPasswordNeverPrinted(t *testing.T) {
	k := Kafka{Brokers: []string{"b:9092"}, SASL: SASL{Mechanism: "PLAIN", User: "redrive", Password: "hunter2-secret"}}
	var logged, asJSON, wholeJSON strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("kafka", "sasl", k.SASL)
	slog.New(slog.NewJSONHandler(&asJSON, nil)).Info("kafka", "sasl", k.SASL)
	slog.New(slog.NewJSONHandler(&wholeJSON, nil)).Info("kafka", "kafka", k)
	if strings.Contains(wholeJSON.String(), "hunter2-secret") {
		t.Fatalf("password in a JSON log of the whole config: %s", wholeJSON.String())
	}
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprint(k.SASL), logged.String(), asJSON.String()} {
		if strings.Contains(s, "hunter2-secret") {
			t.Fatalf("password printed: %s", s)
		}
		if !strings.Contains(s, "redacted") {
			t.Fatalf("no redaction marker in %s", s)
		}
	}
}

// Records of aborted transactions are never read: the consumers ask for
// read_committed wherever the broker has transactions (0.11 and later).
func TestSaramaConfigReadsCommittedOnly(t *testing.T) {
	for version, want := range map[string]sarama.IsolationLevel{
		"3.6.0":    sarama.ReadCommitted,
		"0.11.0.0": sarama.ReadCommitted,
		"0.10.2.0": sarama.ReadUncommitted,
	} {
		cfg, err := Kafka{Brokers: []string{"k:9092"}, Version: version, ClientID: "redrive"}.SaramaConfig()
		if err != nil {
			t.Fatalf("%s: %v", version, err)
		}
		if cfg.Consumer.IsolationLevel != want {
			t.Errorf("Kafka %s: isolation level %v, want %v", version, cfg.Consumer.IsolationLevel, want)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("Kafka %s: sarama refuses the config: %v", version, err)
		}
	}
}
