// Exactly-once consume-transform-produce from Go: reads "orders" as a member of a group
// (read_committed), writes one upper-cased record per input to "orders-upper", and commits the
// input offsets in the same transaction. Killed and started again with the same
// transactional.id, it fences its previous self and resumes from the last committed
// transaction: no output is seen twice by read_committed readers.
//
//	go run ./transactions                    starts a broker inside the process
//	go run ./transactions 127.0.0.1:9092     uses that broker (the topics must exist)
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bootstrap := ""
	expected := -1 // with its own broker it knows how many records there are
	if len(os.Args) > 1 {
		bootstrap = os.Args[1]
	} else {
		broker, err := odradek.StartTestBroker(nil)
		if err != nil {
			return err
		}
		defer broker.Close()
		bootstrap = broker.Bootstrap()
		if err := seed(ctx, bootstrap); err != nil {
			return err
		}
		expected = 4
	}

	producer, err := odradek.NewProducer(map[string]string{
		"bootstrap.servers": bootstrap,
		"transactional.id":  "orders-upper-1",
	})
	if err != nil {
		return err
	}
	defer producer.Close()
	if err := producer.InitTransactions(ctx); err != nil {
		return err
	}
	consumer, err := odradek.NewConsumer(map[string]string{
		"bootstrap.servers":  bootstrap,
		"group.id":           "orders-upper",
		"auto.offset.reset":  "earliest",
		"enable.auto.commit": "false",
		"isolation.level":    "read_committed",
	})
	if err != nil {
		return err
	}
	defer consumer.Close()
	if err := consumer.Subscribe("orders"); err != nil {
		return err
	}
	done := 0
	for expected < 0 || done < expected {
		wait, stop := context.WithTimeout(ctx, 3*time.Second)
		batch, err := consumer.PollBatch(wait, 100)
		stop()
		if errors.Is(err, context.DeadlineExceeded) || (err == nil && len(batch) == 0) {
			break // idle
		}
		if err != nil {
			return err
		}
		if err := transform(ctx, producer, consumer, batch); err != nil {
			return err
		}
		done += len(batch)
	}
	fmt.Printf("transformed %d records exactly once\n", done)
	return nil
}

// transform writes the batch's outputs and its consumer offsets in one transaction.
func transform(ctx context.Context, p *odradek.Producer, c *odradek.Consumer, batch []*odradek.Record) error {
	if err := p.BeginTransaction(); err != nil {
		return err
	}
	next := map[int32]int64{}
	reports := make(chan odradek.DeliveryReport, len(batch))
	for _, m := range batch {
		out := &odradek.Record{Topic: "orders-upper", Partition: m.Partition, UsePartition: true,
			Key: m.Key, Value: []byte(strings.ToUpper(string(m.Value)))}
		// Delivery is checked by CommitTransaction.
		if err := p.ProduceAsync(out, reports); err != nil {
			return err
		}
		next[m.Partition] = m.Offset + 1
	}
	offsets := make([]odradek.TopicPartition, 0, len(next))
	for partition, offset := range next {
		offsets = append(offsets, odradek.TopicPartition{Topic: "orders", Partition: partition, Offset: offset})
	}
	// The consumer's generation and member id go with the offsets (KIP-447).
	metadata, err := c.GetConsumerGroupMetadata()
	if err != nil {
		return err
	}
	err = p.SendOffsetsToTransaction(ctx, offsets, metadata)
	if err == nil {
		err = p.CommitTransaction(ctx)
	}
	var kerr *odradek.Error
	if err != nil && errors.As(err, &kerr) && kerr.TxnRequiresAbort() {
		// Nothing of this batch is visible; a restart reads it again from the committed offsets.
		if abortErr := p.AbortTransaction(ctx); abortErr != nil {
			return abortErr
		}
	}
	return err
}

// seed creates the topics and writes four inputs.
func seed(ctx context.Context, bootstrap string) error {
	admin, err := odradek.NewAdmin(map[string]string{"bootstrap.servers": bootstrap})
	if err != nil {
		return err
	}
	defer admin.Close()
	err = admin.CreateTopics(ctx, odradek.TopicSpec{Name: "orders", Partitions: 2},
		odradek.TopicSpec{Name: "orders-upper", Partitions: 2})
	if err != nil {
		return err
	}
	p, err := odradek.NewProducer(map[string]string{"bootstrap.servers": bootstrap})
	if err != nil {
		return err
	}
	defer p.Close()
	for i, v := range []string{"apple", "pear", "plum", "fig"} {
		r := &odradek.Record{Topic: "orders", Partition: int32(i % 2), UsePartition: true, Value: []byte(v)}
		if _, err := p.Produce(ctx, r); err != nil {
			return err
		}
	}
	return nil
}
