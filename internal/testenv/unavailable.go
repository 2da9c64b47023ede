package testenv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Unavailable reports that the real service could not be started. Under CI
// (CI=true, or any value strconv.ParseBool reads as true) it fails the test,
// because a fall-back in CI would hide that the real service was never
// tested. Elsewhere it logs a banner with the reason, to the test log and to
// stderr, and returns, so the caller can fall back to an embedded service
// (or skip).
func Unavailable(t testing.TB, service string, err error) {
	t.Helper()
	if inCI() {
		t.Fatalf("testenv: the real %s is unavailable, and under CI a fall-back is a failure: %v", service, err)
		return
	}
	banner := unavailableBanner(t.Name(), service, err)
	t.Log(banner)
	fmt.Fprintln(os.Stderr, banner)
}

// inCI tells whether the tests run under CI.
func inCI() bool {
	ci, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && ci
}

// unavailableBanner is the loud message Unavailable logs outside CI.
func unavailableBanner(test, service string, err error) string {
	line := strings.Repeat("!", 72)
	return fmt.Sprintf("\n%s\n!!! %s: REAL %s UNAVAILABLE, falling back (would FAIL under CI=true)\n!!! reason: %v\n!!! fix: make tools (fetches Kafka's jars, installs versitygw and DuckDB; needs Java 17+, Maven and pip)\n%s",
		line, test, strings.ToUpper(service), err, line)
}
