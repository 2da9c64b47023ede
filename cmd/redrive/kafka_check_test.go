package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TLS files given without --tls were ignored and plaintext was used; now
// they stop start-up, naming the flags. With --tls, a CA file that holds no
// PEM certificate is reported at start-up, naming --tls-ca-file.
func TestTLSFlagsWithoutTLSAreRefused(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.der")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	pair := testCertPEM(t)
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := os.WriteFile(cert, pair.cert, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pair.key, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--tls-ca-file=" + cert}, []string{"tls-ca-file", "without --tls"}},
		{[]string{"--tls-cert-file=" + cert, "--tls-key-file=" + key}, []string{"tls-cert-file and tls-key-file", "without --tls"}},
		{[]string{"--tls-insecure-skip-verify"}, []string{"tls-insecure-skip-verify", "without --tls"}},
		{[]string{"--tls", "--tls-ca-file=" + notPEM}, []string{"tls-ca-file", "no PEM certificate"}},
	} {
		_, err := parseRunArgs(append(tc.args, minimalRun...))
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%v: err = %v, want it to contain %q", tc.args, err, w)
			}
		}
	}
	ok := [][]string{
		{"--tls", "--tls-ca-file=" + cert},
		{"--tls", "--tls-cert-file=" + cert, "--tls-key-file=" + key},
	}
	for _, args := range ok {
		if _, err := parseRunArgs(append(args, minimalRun...)); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
}
