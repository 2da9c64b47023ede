package redrive_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/redrive-io/redrive"
)

// Secrets never print: a topology holding every kind of secret, formatted
// with %v and %+v and logged through slog's text and JSON handlers (whole,
// and each config struct on its own), shows none of them.
func TestSecretsNeverPrint(t *testing.T) {
	const s3Secret, saslPassword, apiToken, urlPassword = "s3-SECRET-key", "sasl-SECRET-pw", "Bearer SECRET-token", "url-SECRET-pw"
	var topo redrive.Topology
	topo.S3.Bucket = "b"
	topo.S3.Client.AccessKeyID, topo.S3.Client.SecretAccessKey = "AKIA", s3Secret
	topo.Kafka.SASL.Mechanism, topo.Kafka.SASL.User, topo.Kafka.SASL.Password = "PLAIN", "u", saslPassword
	topo.Enrich.When = "true"
	topo.Enrich.Client.URL = "https://user:" + urlPassword + "@api.example/x"
	topo.Enrich.Client.Headers = map[string]string{"Authorization": apiToken}

	values := map[string]any{"topology": topo, "s3": topo.S3.Client, "sasl": topo.Kafka.SASL, "enrich": topo.Enrich.Client}
	var out bytes.Buffer
	for name, v := range values {
		fmt.Fprintf(&out, "%v\n%+v\n", v, v)
		slog.New(slog.NewTextHandler(&out, nil)).Info("config", name, v)
		slog.New(slog.NewJSONHandler(&out, nil)).Info("config", name, v)
	}
	for _, secret := range []string{s3Secret, saslPassword, "SECRET-token", urlPassword} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("a secret (%s) was printed:\n%s", secret, out.String())
		}
	}
	for _, kept := range []string{"AKIA", "Authorization", "api.example"} {
		if !strings.Contains(out.String(), kept) {
			t.Errorf("%q is missing: redaction hid more than the secrets", kept)
		}
	}
}
