package odradek

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

// The error classes of the transactional producer (the conformance scenario covers commit,
// abort, offsets and read_committed): a failed record makes the transaction abortable and
// the producer goes on after AbortTransaction; a second producer with the same id fences the
// first with a fatal ErrProducerFenced.
func TestTransactionErrorClasses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := must(NewAdmin(cfg()))
	defer admin.Close()
	if err := admin.CreateTopics(ctx, TopicSpec{Name: "go-txn-small", Partitions: 1,
		Config: map[string]string{"max.message.bytes": "1024"}}); err != nil {
		t.Fatal(err)
	}
	p := must(NewProducer(cfg("transactional.id", "go-txn")))
	defer p.Close()
	if err := p.InitTransactions(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Produce(ctx, &Record{Topic: "go-txn-small", Value: bytes.Repeat([]byte("x"), 4096)}); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("too large in a transaction: %v", err)
	}
	var kerr *Error
	err := p.CommitTransaction(ctx)
	if !errors.As(err, &kerr) || !kerr.TxnRequiresAbort() || kerr.IsFatal() {
		t.Fatalf("commit after a failed record: %v", err)
	}
	if err := p.AbortTransaction(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.BeginTransaction(); err != nil {
		t.Fatalf("begin after the abort: %v", err)
	}
	if _, err := p.Produce(ctx, &Record{Topic: "go-txn-small", Value: []byte("small")}); err != nil {
		t.Fatal(err)
	}
	p2 := must(NewProducer(cfg("transactional.id", "go-txn")))
	defer p2.Close()
	if err := p2.InitTransactions(ctx); err != nil {
		t.Fatal(err)
	}
	err = p.CommitTransaction(ctx)
	if !errors.Is(err, ErrProducerFenced) || !errors.As(err, &kerr) || !kerr.IsFatal() {
		t.Fatalf("commit of a fenced producer: %v", err)
	}
	if err := p.BeginTransaction(); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("begin of a fenced producer: %v", err)
	}
	c := must(NewConsumer(cfg()))
	defer c.Close()
	if _, err := c.GetConsumerGroupMetadata(); err == nil {
		t.Fatal("group metadata without group.id")
	}
}
