package odradek

import (
	"context"
	"sync"
	"testing"
	"time"
)

// errorLog is an ErrorHandler that keeps every error it receives.
type errorLog struct {
	mu     sync.Mutex
	seen   []*Error
	closed bool // set once the client is closed: a later call is a bug
	late   int
}

func (l *errorLog) handle(e *Error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		l.late++
	}
	l.seen = append(l.seen, e)
}

// waitFor waits up to timeout for an error with one of these names.
func (l *errorLog) waitFor(timeout time.Duration, names ...string) (*Error, bool) {
	deadline := time.Now().Add(timeout)
	for {
		l.mu.Lock()
		for _, e := range l.seen {
			for _, n := range names {
				if e.Name == n {
					l.mu.Unlock()
					return e, true
				}
			}
		}
		l.mu.Unlock()
		if time.Now().After(deadline) {
			return nil, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMetricsCountRecordsAndShowLag(t *testing.T) {
	createTopic(t, "go-metrics", 1)
	p := must(NewProducer(cfg("linger.ms", "1")))
	defer p.Close()
	var records []*Record
	for i := 0; i < 20; i++ {
		records = append(records, &Record{Topic: "go-metrics", Value: []byte("value-" + string(rune('a'+i)))})
	}
	ctx := context.Background()
	if _, err := p.ProduceBatch(ctx, records); err != nil {
		t.Fatal(err)
	}
	sent := must(p.Metrics())
	if sent.RecordsDelivered != 20 || sent.RecordsFailed != 0 {
		t.Errorf("producer metrics %+v: want 20 delivered, 0 failed", sent)
	}
	up := false
	for _, b := range sent.Brokers {
		up = up || (b.Address == broker.Bootstrap() && b.State == "up" && b.Requests >= 1 && b.Connects >= 1)
	}
	if !up {
		t.Errorf("no broker row up with requests for %s: %+v", broker.Bootstrap(), sent.Brokers)
	}

	c := must(NewConsumer(cfg()))
	defer c.Close()
	if err := c.Assign(ctx, []TopicPartition{{Topic: "go-metrics", Partition: 0, Offset: OffsetBeginning}}); err != nil {
		t.Fatal(err)
	}
	consumeN(t, c, 15, 20*time.Second)
	read := must(c.Metrics())
	if read.RecordsConsumed != 15 || read.BytesConsumed != 15*uint64(len("value-a")) || read.FetchRequests < 1 {
		t.Errorf("consumer metrics %+v: want 15 records of 7 bytes, a fetch", read)
	}
	want := PartitionStats{Topic: "go-metrics", Partition: 0, Position: 15, HighWatermark: 20, Lag: 5}
	if len(read.Partitions) != 1 || read.Partitions[0] != want {
		t.Errorf("partitions %+v, want [%+v]", read.Partitions, want)
	}
	c.Close()
	if _, err := c.Metrics(); !isClosed(err) {
		t.Errorf("Metrics after Close: %v, want ErrClosed", err)
	}
}

// TestStoppedBrokerReachesOnError: the broker stops under a consumer; its handler receives
// _TRANSPORT or _ALL_BROKERS_DOWN within seconds although no call failed, and never runs
// after Close.
func TestStoppedBrokerReachesOnError(t *testing.T) {
	own := must(StartTestBroker(nil))
	defer own.Close()
	config := map[string]string{"bootstrap.servers": own.Bootstrap()}
	admin := must(NewAdmin(config))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := admin.CreateTopics(ctx, TopicSpec{Name: "go-stopped", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	admin.Close()
	p := must(NewProducer(config))
	if _, err := p.Produce(ctx, &Record{Topic: "go-stopped", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	p.Close()

	c := must(NewConsumer(config))
	defer c.Close()
	var log errorLog
	if err := c.OnError(log.handle); err != nil {
		t.Fatal(err)
	}
	if err := c.Assign(ctx, []TopicPartition{{Topic: "go-stopped", Partition: 0, Offset: OffsetBeginning}}); err != nil {
		t.Fatal(err)
	}
	consumeN(t, c, 1, 20*time.Second)
	if _, ok := log.waitFor(0, "_TRANSPORT", "_ALL_BROKERS_DOWN"); ok {
		t.Fatal("an error event before the broker stopped")
	}

	own.Close()
	e, ok := log.waitFor(15*time.Second, "_TRANSPORT", "_ALL_BROKERS_DOWN")
	if !ok {
		t.Fatalf("no _TRANSPORT / _ALL_BROKERS_DOWN within 15 s; got %v", log.seen)
	}
	if !e.Retriable || e.IsFatal() {
		t.Errorf("%v: a lost broker is retriable, not fatal", e)
	}
	stats := must(c.Metrics())
	if len(stats.Brokers) == 0 || stats.Brokers[0].Disconnects+stats.Brokers[0].ConnectFailures == 0 {
		t.Errorf("the broker rows show no loss: %+v", stats.Brokers)
	}

	if err := c.Close(); err != nil {
		t.Logf("close with the broker gone: %v", err)
	}
	log.mu.Lock()
	log.closed = true
	log.mu.Unlock()
	time.Sleep(500 * time.Millisecond)
	log.mu.Lock()
	defer log.mu.Unlock()
	if log.late != 0 {
		t.Errorf("%d error callbacks after Close", log.late)
	}
}

func TestOnErrorReplacesAndStops(t *testing.T) {
	p := must(NewProducer(map[string]string{"bootstrap.servers": "127.0.0.1:1", "message.timeout.ms": "2000"}))
	var first, second errorLog
	if err := p.OnError(first.handle); err != nil {
		t.Fatal(err)
	}
	if err := p.OnError(second.handle); err != nil {
		t.Fatal(err)
	}
	go p.Produce(context.Background(), &Record{Topic: "nowhere", Value: []byte("v")})
	if _, ok := second.waitFor(15*time.Second, "_ALL_BROKERS_DOWN"); !ok {
		t.Fatalf("the second handler got no _ALL_BROKERS_DOWN: %v", second.seen)
	}
	if len(first.seen) != 0 {
		t.Errorf("the replaced handler still received %v", first.seen)
	}
	if err := p.OnError(nil); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if err := p.OnError(second.handle); !isClosed(err) {
		t.Errorf("OnError after Close: %v, want ErrClosed", err)
	}
	if LiveHandles() < 0 {
		t.Fatal("handle count below zero")
	}
}
