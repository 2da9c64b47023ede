package redrive_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive"
	"github.com/redrive-io/redrive/internal/embedded"
	"github.com/redrive-io/redrive/pipeline"
)

// ExampleTopology embeds redrive as a library: build a Topology (plain
// data), validate it, start it (connect, check or create the topics, check
// the output) and run it until its context ends. Here it runs against the
// in-process broker that `redrive demo` uses and writes its batches to a
// local directory instead of S3; a deployment sets Kafka.Brokers and S3.
func ExampleTopology() {
	broker, err := embedded.StartKafka(2)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer broker.Close()
	out, err := os.MkdirTemp("", "redrive-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(out)

	topo := redrive.Topology{
		Kafka:     pipeline.Kafka{Brokers: broker.Brokers()},
		Pipeline:  pipeline.Config{Group: "example", InputTopic: "orders", DLQTopic: "orders.dlq", ParkingTopic: "orders.parking"},
		Topics:    pipeline.Topics{Create: true, Partitions: 2},
		OutputDir: out,
		HTTPAddr:  "off",
	}
	topo.Sink.MaxAge = 100 * time.Millisecond
	topo.SetDefaults()
	if err := topo.Validate(); err != nil {
		fmt.Println("invalid:", err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	runner, err := topo.Start(ctx, redrive.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()

	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Producer.Return.Successes = true
	producer, err := sarama.NewSyncProducer(broker.Brokers(), cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range []string{`{"id":1}`, `{"id":2}`, `{"id":3}`} {
		if _, _, err := producer.SendMessage(&sarama.ProducerMessage{Topic: "orders", Value: sarama.StringEncoder(v)}); err != nil {
			fmt.Println(err)
			return
		}
	}
	producer.Close()
	for deadline := time.Now().Add(30 * time.Second); runner.Stats().ToSink < 3 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	stop() // as SIGTERM does: flush, commit, exit within ShutdownGrace
	fmt.Println("run:", <-done)
	fmt.Println("records durable in the output:", runner.Stats().ToSink)
	// Output:
	// run: <nil>
	// records durable in the output: 3
}
