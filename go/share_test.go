package odradek

import (
	"context"
	"errors"
	"testing"
	"time"
)

// waitShareAssignment polls until the member is assigned a partition, then fetches once more:
// the share-partition starts at the log's end (share.auto.offset.reset=latest) when first
// fetched, so records produced after this are delivered.
func waitShareAssignment(t *testing.T, c *ShareConsumer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		assigned := must(c.Assignment())
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		got, err := c.Poll(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || len(got) > 0 {
			t.Fatalf("poll before producing: %d records, %v", len(got), err)
		}
		if len(assigned) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no share assignment within 20 s")
		}
	}
}

func TestShareConsumerReleaseRejectAccept(t *testing.T) {
	createTopic(t, "go-share", 1)
	if _, err := NewShareConsumer(cfg()); err == nil || !errors.Is(err, &Error{Code: -186}) {
		t.Fatalf("a share consumer without group.id: %v", err)
	}
	c := must(NewShareConsumer(cfg("group.id", "go-share-group")))
	defer c.Close()
	if err := c.Subscribe("go-share"); err != nil {
		t.Fatal(err)
	}
	waitShareAssignment(t, c)

	p := must(NewProducer(cfg()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, v := range []string{"accept", "release", "reject"} {
		must(p.Produce(ctx, &Record{Topic: "go-share", Value: []byte(v)}))
	}
	p.Close()

	var first []*ShareRecord
	for len(first) < 3 {
		batch, err := c.Poll(ctx)
		if err != nil {
			t.Fatalf("after %d of 3 records: %v", len(first), err)
		}
		first = append(first, batch...)
	}
	for i, want := range []string{"accept", "release", "reject"} {
		if string(first[i].Value) != want || first[i].DeliveryCount != 1 || first[i].Offset != int64(i) {
			t.Fatalf("record %d: %q count %d offset %d", i, first[i].Value, first[i].DeliveryCount, first[i].Offset)
		}
	}
	// Implicit mode: "accept" is accepted with the next poll without a call.
	if err := c.Acknowledge(first[1], AcknowledgeRelease); err != nil {
		t.Fatal(err)
	}
	if err := c.Acknowledge(first[2], AcknowledgeReject); err != nil {
		t.Fatal(err)
	}
	if err := c.Acknowledge(first[2], AcknowledgeAccept); err == nil {
		t.Fatal("a record acknowledged twice")
	}
	again, err := c.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || string(again[0].Value) != "release" || again[0].DeliveryCount != 2 {
		t.Fatalf("after release: %d records, first %q count %d", len(again), again[0].Value, again[0].DeliveryCount)
	}
	if err := c.CommitSync(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	if rest, err := c.Poll(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("after every record was settled: %d records, %v", len(rest), err)
	}
	if err := c.CommitAsync(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Poll(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("poll after close: %v", err)
	}
}
