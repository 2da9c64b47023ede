package main

import (
	"fmt"
	"strings"

	"github.com/redrive-io/redrive/pipeline"
)

// checkTLSFlags refuses TLS settings given without --tls, which used to be
// ignored in silence (plaintext was used), and, with --tls, reads the files
// now so that a CA file holding no PEM certificate stops start-up with an
// error naming --tls-ca-file rather than failing at the first connection.
func checkTLSFlags(k pipeline.Kafka) error {
	t := k.TLS
	if t.Enabled {
		_, err := k.SaramaConfig()
		return err
	}
	var given []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"tls-ca-file", t.CAFile != ""},
		{"tls-cert-file", t.CertFile != ""},
		{"tls-key-file", t.KeyFile != ""},
		{"tls-insecure-skip-verify", t.InsecureSkipVerify},
	} {
		if f.set {
			given = append(given, f.name)
		}
	}
	if len(given) == 0 {
		return nil
	}
	return fmt.Errorf("%s: given without --tls, so the brokers would be reached in plaintext: add --tls (%s=true) or remove them",
		strings.Join(given, " and "), envName("tls"))
}
