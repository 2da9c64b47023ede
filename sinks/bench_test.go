package sinks

import (
	"context"
	"fmt"
	"testing"
)

// discardStore accepts every Put and keeps nothing.
type discardStore struct{}

func (discardStore) Put(context.Context, string, []byte, string, string) error { return nil }
func (discardStore) Check(context.Context) error                               { return nil }
func (discardStore) String() string                                            { return "discard://" }

// BenchmarkAdd measures Add with each compression on realistic output lines, sealing and
// uploading (to a store that discards) included.
func BenchmarkAdd(b *testing.B) {
	for _, compression := range []string{CompressionGzip, CompressionZstd, CompressionNone} {
		b.Run(compression, func(b *testing.B) {
			bt, err := NewBatcher(Config{Compression: compression}, discardStore{})
			if err != nil {
				b.Fatal(err)
			}
			lines := make([][]byte, 1024)
			for i := range lines {
				lines[i] = []byte(fmt.Sprintf(`{"id":"ord-%08d","category":"%c","amount":%d.%02d,"origin":{"topic":"orders","partition":%d,"offset":%d},"attempt":%d,"enriched":{"score":%d,"segment":"seg-%d"}}`,
					i*7919, 'A'+i%5, i*13%1000, i%100, i%12, 1000000+i, i%3, i*31%100, i%17))
			}
			b.SetBytes(int64(len(lines[0])))
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				bt.Add(Item{Topic: "orders", Partition: int32(i % 12), Offset: int64(i), Line: lines[i%len(lines)]})
			}
			if err := bt.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	}
}
