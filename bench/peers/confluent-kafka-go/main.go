// Benchmark peer on confluent-kafka-go v2 (cgo over its bundled librdkafka): produce and
// consume. Same command line and JSON output as the other peers (see bench/README.md); its
// configuration matches bench/peers/confluent_python/peer.py.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

type options struct {
	bootstrap, topic, acks, compression string
	count, size, lingerMs, batchSize    int
}

func die(what string, err any) {
	fmt.Fprintf(os.Stderr, "confluent-kafka-go peer: %s: %v\n", what, err)
	os.Exit(1)
}

func emit(v map[string]any) {
	_, lib := kafka.LibraryVersion()
	v["client"] = "confluent-kafka-go v2.11.1 (librdkafka " + lib + ")"
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func payloadPool(n int) []byte {
	p := make([]byte, n)
	x := uint64(0x9E3779B97F4A7C15)
	for i := range p {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		p[i] = byte('A' + x%26)
	}
	return p
}

const pool = 1 << 20

func runProduce(o options) {
	acks := o.acks
	if acks == "all" {
		acks = "-1"
	}
	p, err := kafka.NewProducer(&kafka.ConfigMap{
		"bootstrap.servers":                     o.bootstrap,
		"acks":                                  acks,
		"compression.codec":                     o.compression,
		"linger.ms":                             o.lingerMs,
		"batch.size":                            o.batchSize,
		"batch.num.messages":                    1000000,
		"enable.idempotence":                    false,
		"max.in.flight.requests.per.connection": 5,
		"queue.buffering.max.messages":          1000000,
		"queue.buffering.max.kbytes":            1048576,
	})
	if err != nil {
		die("new producer", err)
	}
	defer p.Close()
	data := payloadPool(pool)
	done := make(chan error, 1)
	go func() {
		ok, failed := 0, 0
		var first error
		for e := range p.Events() {
			if m, isMsg := e.(*kafka.Message); isMsg {
				if m.TopicPartition.Error != nil {
					failed++
					if first == nil {
						first = m.TopicPartition.Error
					}
				} else {
					ok++
				}
				if ok+failed == o.count {
					done <- first
					return
				}
			}
		}
	}()
	topic := o.topic
	t0 := time.Now()
	for i := 0; i < o.count; i++ {
		off := (i * 4099) % (pool - o.size)
		msg := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
			Value: data[off : off+o.size]}
		for {
			err := p.Produce(msg, nil)
			if err == nil {
				break
			}
			if kerr, ok := err.(kafka.Error); ok && kerr.Code() == kafka.ErrQueueFull {
				time.Sleep(time.Millisecond)
				continue
			}
			die("produce", err)
		}
	}
	if err := <-done; err != nil {
		die("delivery", err)
	}
	emit(map[string]any{"records": o.count, "bytes": o.count * o.size, "seconds": time.Since(t0).Seconds()})
}

func runConsume(o options) {
	c, err := kafka.NewConsumer(&kafka.ConfigMap{
		"bootstrap.servers":         o.bootstrap,
		"group.id":                  "odradek-bench",
		"enable.auto.commit":        false,
		"fetch.min.bytes":           1,
		"max.partition.fetch.bytes": 1048576,
		"fetch.max.bytes":           52428800,
	})
	if err != nil {
		die("new consumer", err)
	}
	defer c.Close()
	if err := c.Assign([]kafka.TopicPartition{{Topic: &o.topic, Partition: 0, Offset: 0}}); err != nil {
		die("assign", err)
	}
	n, bytes := 0, 0
	var t0 time.Time
	deadline := time.Now().Add(300 * time.Second)
	for n < o.count {
		if time.Now().After(deadline) {
			die("consume", "timed out after 300 s")
		}
		switch e := c.Poll(100).(type) {
		case *kafka.Message:
			if n == 0 {
				t0 = time.Now()
			}
			n++
			bytes += len(e.Value)
		case kafka.Error:
			if e.Code() != kafka.ErrPartitionEOF {
				die("consume", e)
			}
		}
	}
	emit(map[string]any{"records": n, "bytes": bytes, "seconds": time.Since(t0).Seconds()})
}

func main() {
	if len(os.Args) < 2 {
		die("usage", "peer produce|consume --bootstrap B --topic T ...")
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	var o options
	fs.StringVar(&o.bootstrap, "bootstrap", "", "")
	fs.StringVar(&o.topic, "topic", "", "")
	fs.StringVar(&o.acks, "acks", "1", "")
	fs.StringVar(&o.compression, "compression", "none", "")
	fs.IntVar(&o.count, "count", 100000, "")
	fs.IntVar(&o.size, "size", 100, "")
	fs.IntVar(&o.lingerMs, "linger-ms", 5, "")
	fs.IntVar(&o.batchSize, "batch-size", 65536, "")
	var rate int
	var seconds float64
	fs.IntVar(&rate, "rate", 1000, "")
	fs.Float64Var(&seconds, "seconds", 5, "")
	fs.Parse(os.Args[2:])
	switch mode {
	case "produce":
		runProduce(o)
	case "consume":
		runConsume(o)
	default:
		die("mode", mode+" is not supported (produce, consume)")
	}
}
