package interop

// Interop with franz-go (a pure-Go Kafka client) both ways, on the embedded broker: records
// written by franz-go are read exactly by this binding, and the other way round.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/odradek/odradek/go"
)

func TestFranzGoWritesOdradekReads(t *testing.T) {
	createTopic(t, "go-from-franz", 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker.Bootstrap()), kgo.DefaultProduceTopic("go-from-franz"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < 20; i++ {
		r := &kgo.Record{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i)),
			Headers: []kgo.RecordHeader{{Key: "from", Value: []byte("franz")}}}
		if i == 19 {
			r.Key = nil
		}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	c := must(odradek.NewConsumer(cfg()))
	defer c.Close()
	if err := c.Assign(ctx, []odradek.TopicPartition{{Topic: "go-from-franz", Offset: odradek.OffsetBeginning}}); err != nil {
		t.Fatal(err)
	}
	got := consumeN(t, c, 20, 20*time.Second)
	for i, r := range got {
		wantKey := fmt.Sprintf("k%d", i)
		if i == 19 {
			if r.Key != nil {
				t.Fatalf("record 19: key %q, want null", r.Key)
			}
		} else if string(r.Key) != wantKey {
			t.Fatalf("record %d: key %q", i, r.Key)
		}
		if string(r.Value) != fmt.Sprintf("v%d", i) || r.Offset != int64(i) ||
			len(r.Headers) != 1 || r.Headers[0].Key != "from" || string(r.Headers[0].Value) != "franz" {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
}

func TestOdradekWritesFranzGoReads(t *testing.T) {
	createTopic(t, "go-to-franz", 3)
	p := must(odradek.NewProducer(cfg()))
	defer p.Close()
	var records []*odradek.Record
	for i := 0; i < 30; i++ {
		records = append(records, &odradek.Record{Topic: "go-to-franz", Key: []byte(fmt.Sprintf("key-%d", i)),
			Value: []byte(fmt.Sprintf("value-%d", i)), Headers: []odradek.Header{{Key: "n", Value: []byte(fmt.Sprint(i))}}})
	}
	reports, err := p.ProduceBatch(context.Background(), records)
	if err != nil {
		t.Fatal(err)
	}
	where := map[string]odradek.DeliveryReport{}
	for _, r := range reports {
		where[string(r.Record.Key)] = r
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker.Bootstrap()), kgo.ConsumeTopics("go-to-franz"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seen := 0
	for seen < 30 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("franz-go read %d of 30: %v", seen, err)
		}
		fetches.EachError(func(topic string, part int32, err error) { t.Fatalf("%s-%d: %v", topic, part, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			rep, ok := where[string(r.Key)]
			var i int
			fmt.Sscanf(string(r.Key), "key-%d", &i)
			if !ok || rep.Partition != r.Partition || rep.Offset != r.Offset ||
				string(r.Value) != fmt.Sprintf("value-%d", i) || len(r.Headers) != 1 || string(r.Headers[0].Value) != fmt.Sprint(i) {
				t.Fatalf("franz-go read %+v; odradek reported %+v", r, rep)
			}
			seen++
		})
	}
	// The same keys land on the same partitions as franz-go's default (murmur2) partitioner.
	check, err := kgo.NewClient(kgo.SeedBrokers(broker.Bootstrap()), kgo.DefaultProduceTopic("go-to-franz"))
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	for i := 0; i < 30; i += 7 {
		key := fmt.Sprintf("key-%d", i)
		res, err := check.ProduceSync(ctx, &kgo.Record{Key: []byte(key), Value: []byte("again")}).First()
		if err != nil {
			t.Fatal(err)
		}
		if res.Partition != where[key].Partition {
			t.Fatalf("key %s: franz-go partition %d, odradek %d", key, res.Partition, where[key].Partition)
		}
	}
}
