package odradek

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"
)

var broker *TestBroker

func TestMain(m *testing.M) {
	var err error
	broker, err = StartTestBroker(map[string]string{"num.partitions": "1"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start test broker:", err)
		os.Exit(1)
	}
	code := m.Run()
	broker.Close()
	os.Exit(code)
}

func cfg(kv ...string) map[string]string {
	m := map[string]string{"bootstrap.servers": broker.Bootstrap()}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// must fails the test (by panicking, which go test reports with the stack) on an error.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func createTopic(t *testing.T, name string, partitions int32) {
	t.Helper()
	admin := must(NewAdmin(cfg()))
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.CreateTopics(ctx, TopicSpec{Name: name, Partitions: partitions}); err != nil {
		t.Fatal(err)
	}
}

func consumeN(t *testing.T, c *Consumer, n int, timeout time.Duration) []*Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*Record
	for len(out) < n {
		batch, err := c.PollBatch(ctx, n-len(out))
		if err != nil {
			t.Fatalf("after %d of %d records: %v", len(out), n, err)
		}
		out = append(out, batch...)
	}
	return out
}

func TestProduceAndConsume(t *testing.T) {
	createTopic(t, "go-roundtrip", 2)
	p := must(NewProducer(cfg("linger.ms", "1")))
	defer p.Close()
	ctx := context.Background()

	rep, err := p.Produce(ctx, &Record{Topic: "go-roundtrip", Partition: 1, UsePartition: true,
		Key: []byte("k0"), Value: []byte("v0"),
		Headers: []Header{{Key: "h", Value: []byte("x")}, {Key: "null", Value: nil}}})
	if err != nil || rep.Partition != 1 || rep.Offset != 0 {
		t.Fatalf("Produce: %+v %v", rep, err)
	}
	reports := make(chan DeliveryReport, 10)
	for i := 1; i <= 10; i++ {
		r := &Record{Topic: "go-roundtrip", Partition: 1, UsePartition: true, Value: []byte(fmt.Sprintf("v%d", i))}
		if err := p.ProduceAsync(r, reports); err != nil {
			t.Fatal(err)
		}
	}
	// Reports of separate sends may arrive in any order; each names its record.
	for i := 1; i <= 10; i++ {
		r := <-reports
		if r.Err != nil || string(r.Record.Value) != fmt.Sprintf("v%d", r.Offset) {
			t.Fatalf("async report %d: %+v", i, r)
		}
	}
	batch := []*Record{{Topic: "go-roundtrip", Partition: 1, UsePartition: true, Key: nil, Value: []byte{}}}
	reps, err := p.ProduceBatch(ctx, batch)
	if err != nil || reps[0].Offset != 11 {
		t.Fatalf("ProduceBatch: %+v %v", reps, err)
	}

	c := must(NewConsumer(cfg()))
	defer c.Close()
	if err := c.Assign(ctx, []TopicPartition{{Topic: "go-roundtrip", Partition: 1, Offset: OffsetBeginning}}); err != nil {
		t.Fatal(err)
	}
	got := consumeN(t, c, 12, 10*time.Second)
	first := got[0]
	if string(first.Key) != "k0" || string(first.Value) != "v0" || len(first.Headers) != 2 ||
		first.Headers[0].Key != "h" || string(first.Headers[0].Value) != "x" || first.Headers[1].Value != nil {
		t.Fatalf("first record: %+v", first)
	}
	last := got[11]
	if last.Key != nil || last.Value == nil || len(last.Value) != 0 || last.Offset != 11 {
		t.Fatalf("null key / empty value record: %+v", last)
	}
	pos := must(c.Position("go-roundtrip", 1))
	if pos != 12 {
		t.Fatalf("position %d", pos)
	}
	if err := c.Seek("go-roundtrip", 1, 5); err != nil {
		t.Fatal(err)
	}
	r := must(c.Poll(ctx))
	if r.Offset != 5 {
		t.Fatalf("after seek: offset %d", r.Offset)
	}
	parts := must(c.Assignment())
	if len(parts) != 1 || parts[0].Topic != "go-roundtrip" || parts[0].Partition != 1 {
		t.Fatalf("assignment %+v", parts)
	}
}

func TestErrors(t *testing.T) {
	_, err := NewProducer(cfg("linger.msec", "5"))
	var kerr *Error
	if !errors.Is(err, ErrInvalidConfig) || !errors.As(err, &kerr) || kerr.Retriable ||
		kerr.Class != ClassPermanent || !bytes.Contains([]byte(kerr.Message), []byte("linger.msec")) {
		t.Fatalf("bad key: %#v", err)
	}
	createTopic(t, "go-exists", 1)
	admin := must(NewAdmin(cfg()))
	defer admin.Close()
	err = admin.CreateTopics(context.Background(), TopicSpec{Name: "go-exists", Partitions: 1})
	if !errors.Is(err, ErrTopicAlreadyExists) || !errors.As(err, &kerr) || kerr.Code != 36 {
		t.Fatalf("create twice: %v", err)
	}
	if err := admin.CreateTopics(context.Background(), TopicSpec{Name: "go-small", Partitions: 1,
		Config: map[string]string{"max.message.bytes": "1024"}}); err != nil {
		t.Fatal(err)
	}
	p := must(NewProducer(cfg("linger.ms", "0")))
	defer p.Close()
	_, err = p.Produce(context.Background(), &Record{Topic: "go-small", Value: bytes.Repeat([]byte("x"), 4096)})
	if !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	topics := must(admin.ListTopics(context.Background()))
	if topics["go-small"] != 1 {
		t.Fatalf("list topics: %v", topics)
	}
	if err := admin.CreatePartitions(context.Background(), "go-small", 2); err != nil {
		t.Fatal(err)
	}
	if err := admin.DeleteTopics(context.Background(), "go-small"); err != nil {
		t.Fatal(err)
	}
}

func TestContextCancelsPollAndCommit(t *testing.T) {
	createTopic(t, "go-cancel", 1)
	c := must(NewConsumer(cfg("group.id", "go-cancel")))
	defer c.Close()
	if err := c.Assign(context.Background(), []TopicPartition{{Topic: "go-cancel", Partition: 0, Offset: OffsetEnd}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c.Poll(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("poll overstayed its deadline: %v", time.Since(start))
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel2() }()
	if _, err := c.PollBatch(ctx2, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: %v", err)
	}
	// An already-cancelled context fails a commit at once.
	if err := c.Commit(ctx2); !errors.Is(err, context.Canceled) {
		t.Fatalf("commit with a cancelled context: %v", err)
	}
	// Close wakes a poll waiting without deadline.
	done := make(chan error, 1)
	go func() { _, err := c.Poll(context.Background()); done <- err }()
	time.Sleep(100 * time.Millisecond)
	c.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("poll after close: %v", err)
	}
}

func TestGroupRebalanceCommitCommitted(t *testing.T) {
	createTopic(t, "go-group", 2)
	p := must(NewProducer(cfg()))
	var records []*Record
	for i := 0; i < 20; i++ {
		records = append(records, &Record{Topic: "go-group", Partition: int32(i % 2), UsePartition: true, Value: []byte("g")})
	}
	must(p.ProduceBatch(context.Background(), records))
	p.Close()

	var mu sync.Mutex
	assigned := map[int32]int{}
	c := must(NewConsumer(cfg("group.id", "go-group", "auto.offset.reset", "earliest", "enable.auto.commit", "false")))
	defer c.Close()
	if err := c.OnRebalance(func(ev RebalanceEvent) {
		mu.Lock()
		defer mu.Unlock()
		for _, tp := range ev.Partitions {
			if ev.Kind == PartitionsAssigned {
				assigned[tp.Partition]++
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe("go-group"); err != nil {
		t.Fatal(err)
	}
	consumeN(t, c, 20, 20*time.Second)
	// The handler runs on the consumer's rebalance thread, beside the first fetches.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		done := assigned[0] == 1 && assigned[1] == 1
		seen := fmt.Sprint(assigned)
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rebalance callback: %s", seen)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx := context.Background()
	if err := c.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	got := must(c.Committed(ctx, []TopicPartition{{Topic: "go-group", Partition: 0}, {Topic: "go-group", Partition: 1}}))
	if got[0].Offset != 10 || got[1].Offset != 10 {
		t.Fatalf("committed %+v", got)
	}
}

func TestRecordsChannel(t *testing.T) {
	createTopic(t, "go-channel", 1)
	p := must(NewProducer(cfg()))
	defer p.Close()
	var records []*Record
	for i := 0; i < 50; i++ {
		records = append(records, &Record{Topic: "go-channel", Value: []byte(fmt.Sprint(i))})
	}
	must(p.ProduceBatch(context.Background(), records))
	c := must(NewConsumer(cfg()))
	defer c.Close()
	if err := c.Assign(context.Background(), []TopicPartition{{Topic: "go-channel", Offset: OffsetBeginning}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	ch, errs := c.Records(ctx)
	var offsets []int64
	for r := range ch {
		offsets = append(offsets, r.Offset)
		if len(offsets) == 50 {
			cancel()
		}
	}
	cancel()
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	sort.Slice(offsets, func(i, j int) bool { return offsets[i] < offsets[j] })
	if len(offsets) < 50 || offsets[0] != 0 || offsets[49] != 49 {
		t.Fatalf("channel got %d records", len(offsets))
	}
}

// Closing an auto-commit group consumer commits only the records the application received:
// records still buffered by Poll, or held by a Records goroutine, are not covered.
func TestCloseCommitsOnlyWhatWasHandedOut(t *testing.T) {
	createTopic(t, "go-read-ahead", 1)
	p := must(NewProducer(cfg()))
	defer p.Close()
	var records []*Record
	for i := 0; i < 100; i++ {
		records = append(records, &Record{Topic: "go-read-ahead", Value: []byte(fmt.Sprint(i))})
	}
	must(p.ProduceBatch(context.Background(), records))
	group := cfg("group.id", "go-read-ahead", "auto.offset.reset", "earliest", "enable.auto.commit", "true")
	tp := []TopicPartition{{Topic: "go-read-ahead", Partition: 0}}
	committed := func() int64 {
		c := must(NewConsumer(group))
		defer c.Close()
		return must(c.Committed(context.Background(), tp))[0].Offset
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Poll hands out one record at a time from a fetched batch.
	a := must(NewConsumer(group))
	if err := a.Subscribe("go-read-ahead"); err != nil {
		t.Fatal(err)
	}
	var last int64
	for i := 0; i < 10; i++ {
		last = must(a.Poll(ctx)).Offset
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got := committed(); got != last+1 {
		t.Fatalf("after Poll x10 and Close: committed %d, want %d", got, last+1)
	}

	// Records: receive 5 from the channel, then Close without cancelling its context.
	b := must(NewConsumer(group))
	if err := b.Subscribe("go-read-ahead"); err != nil {
		t.Fatal(err)
	}
	ch, _ := b.Records(ctx)
	first := (<-ch).Offset
	if first != last+1 {
		t.Fatalf("the next member starts at %d, want %d", first, last+1)
	}
	for i := 0; i < 4; i++ {
		last = (<-ch).Offset
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for range ch { // closed by Close
	}
	if got := committed(); got != last+1 {
		t.Fatalf("after 5 from Records and Close: committed %d, want %d", got, last+1)
	}
}

// After Close of everything, no goroutine and no native handle is left behind.
func TestNoLeaksAfterClose(t *testing.T) {
	createTopic(t, "go-leaks", 1)
	runtime.GC()
	baseG, baseH := runtime.NumGoroutine(), LiveHandles()
	for round := 0; round < 3; round++ {
		p := must(NewProducer(cfg()))
		reports := make(chan DeliveryReport, 100)
		for i := 0; i < 100; i++ {
			if err := p.ProduceAsync(&Record{Topic: "go-leaks", Value: []byte("x")}, reports); err != nil {
				t.Fatal(err)
			}
		}
		c := must(NewConsumer(cfg("group.id", "go-leaks")))
		if err := c.Subscribe("go-leaks"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		c.Poll(ctx)
		cancel()
		ch, _ := c.Records(context.Background())
		admin := must(NewAdmin(cfg()))
		must(admin.ListTopics(context.Background()))
		p.Close()
		c.Close()
		for range ch {
		}
		admin.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseG && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > baseG {
		buf := make([]byte, 1<<16)
		t.Fatalf("goroutines: %d before, %d after close\n%s", baseG, g, buf[:runtime.Stack(buf, true)])
	}
	if h := LiveHandles(); h != baseH {
		t.Fatalf("native handles: %d before, %d after close", baseH, h)
	}
}

func TestPauseResumeWatermarks(t *testing.T) {
	createTopic(t, "go-pause", 2)
	p := must(NewProducer(cfg()))
	defer p.Close()
	ctx := context.Background()
	for part := int32(0); part < 2; part++ {
		for i := 0; i < 3; i++ {
			if _, err := p.Produce(ctx, &Record{Topic: "go-pause", Partition: part, UsePartition: true, Value: []byte("v")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := must(NewConsumer(cfg()))
	defer c.Close()
	low, high, err := c.Watermarks(ctx, "go-pause", 1)
	if err != nil || low != 0 || high != 3 {
		t.Fatalf("watermarks: %d %d %v", low, high, err)
	}
	if err := c.Assign(ctx, []TopicPartition{{Topic: "go-pause", Partition: 0, Offset: OffsetBeginning}, {Topic: "go-pause", Partition: 1, Offset: OffsetBeginning}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Pause([]TopicPartition{{Topic: "go-pause", Partition: 1}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range consumeN(t, c, 3, 10*time.Second) {
		if r.Partition != 0 {
			t.Fatalf("a record of the paused partition: %+v", r)
		}
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if batch, err := c.PollBatch(short, 10); len(batch) != 0 {
		t.Fatalf("records while partition 1 is paused: %d (%v)", len(batch), err)
	}
	if err := c.Resume([]TopicPartition{{Topic: "go-pause", Partition: 1}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range consumeN(t, c, 3, 10*time.Second) {
		if r.Partition != 1 {
			t.Fatalf("after resume: %+v", r)
		}
	}
}
