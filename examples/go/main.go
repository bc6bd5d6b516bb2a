// odradek from Go: produce ten records, read them back through a consumer group, with an
// embedded broker (or yours).
//
//	go run .                    starts a broker inside the process (odradek.StartTestBroker)
//	go run . 127.0.0.1:9092     uses that broker instead
//
// Build the native library first: cargo build --release -p odradek-ffi, then
// CGO_LDFLAGS="-L$CARGO_TARGET_DIR/release" go run .
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/odradek/odradek/go"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	bootstrap := ""
	if len(os.Args) > 1 {
		bootstrap = os.Args[1]
	} else {
		broker, err := odradek.StartTestBroker(nil)
		if err != nil {
			return err
		}
		defer broker.Close()
		bootstrap = broker.Bootstrap()
	}
	fmt.Println("broker", bootstrap)
	config := map[string]string{"bootstrap.servers": bootstrap}

	admin, err := odradek.NewAdmin(config)
	if err != nil {
		return err
	}
	defer admin.Close()
	err = admin.CreateTopics(ctx, odradek.TopicSpec{Name: "greetings", Partitions: 3})
	if err != nil && !errors.Is(err, odradek.ErrTopicAlreadyExists) {
		return err
	}

	producer, err := odradek.NewProducer(map[string]string{"bootstrap.servers": bootstrap, "linger.ms": "5"})
	if err != nil {
		return err
	}
	defer producer.Close()
	reports := make(chan odradek.DeliveryReport, 10)
	for i := 0; i < 10; i++ {
		record := &odradek.Record{
			Topic:   "greetings",
			Key:     []byte(fmt.Sprintf("user-%d", i%3)),
			Value:   []byte(fmt.Sprintf("hello %d", i)),
			Headers: []odradek.Header{{Key: "source", Value: []byte("quickstart")}},
		}
		if err := producer.ProduceAsync(record, reports); err != nil {
			return err
		}
	}
	for i := 0; i < 10; i++ {
		r := <-reports
		if r.Err != nil {
			return r.Err
		}
		fmt.Printf("delivered to partition %d offset %d\n", r.Partition, r.Offset)
	}

	consumer, err := odradek.NewConsumer(map[string]string{
		"bootstrap.servers": bootstrap,
		"group.id":          "quickstart",
		"auto.offset.reset": "earliest",
	})
	if err != nil {
		return err
	}
	defer consumer.Close()
	consumer.OnRebalance(func(ev odradek.RebalanceEvent) {
		fmt.Printf("rebalance: %s %d partitions\n", ev.Kind, len(ev.Partitions))
	})
	if err := consumer.Subscribe("greetings"); err != nil {
		return err
	}
	for seen := 0; seen < 10; seen++ {
		m, err := consumer.Poll(ctx) // ctx's deadline bounds the wait
		if err != nil {
			return err
		}
		fmt.Printf("%d@%d %s = %s\n", m.Partition, m.Offset, m.Key, m.Value)
	}
	if err := consumer.Commit(ctx); err != nil {
		return err
	}
	fmt.Println("read 10 records")
	return nil
}
