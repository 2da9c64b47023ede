package testenv

import (
	"testing"
	"time"
)

// kafka1 is the single-node cluster shared by this package's tests that do
// not stop nodes.
var kafka1 = SharedKafka(1)

func TestMain(m *testing.M) { Main(m, kafka1) }

// needKafka returns the shared cluster, or reports it unavailable (failing
// under CI) and skips: this package has nothing to fall back to.
func needKafka(t *testing.T) *Kafka {
	t.Helper()
	start := time.Now()
	k, err := kafka1.Get(t.Context())
	if err != nil {
		Unavailable(t, "Kafka", err)
		t.Skip("no real Kafka")
	}
	if d := time.Since(start); d > time.Second {
		t.Logf("started the shared 1-node cluster in %s", d.Round(time.Millisecond))
	}
	return k
}
