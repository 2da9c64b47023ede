package enrich_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/redrive-io/redrive/enrich"
	"github.com/redrive-io/redrive/enrich/mockapi"
)

// BenchmarkEnrichParallel measures the client's overhead and throughput
// against the mock API over loopback, with the default Concurrency (32).
func BenchmarkEnrichParallel(b *testing.B) {
	srv := httptest.NewServer(mockapi.New(mockapi.Config{}))
	b.Cleanup(srv.Close)
	c, err := enrich.New(enrich.Config{URL: srv.URL + "/enrich"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	value := []byte(`{"id":12345,"category":"X","payload":"some text of a typical record"}`)
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Enrich(context.Background(), value, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRuleMatch is the rule's cost per record that pass-through
// pays: a field or two read from the picked map.
func BenchmarkRuleMatch(b *testing.B) {
	r, err := enrich.CompileRule(`category == "X" && amount > 10`)
	if err != nil {
		b.Fatal(err)
	}
	fields := map[string]any{"category": "Y", "amount": 12.0}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Match(fields); err != nil {
			b.Fatal(err)
		}
	}
}
