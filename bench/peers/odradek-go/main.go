// Benchmark peer on the odradek Go binding (go/, over the C ABI): produce and consume.
//
// Same command line and JSON output as the other peers (see bench/README.md). Produce uses
// the batch API (ProduceBatchAsync, 1000 records per native call); consume uses PollBatch.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	odradek "github.com/odradek/odradek/go"
)

type options struct {
	bootstrap, topic, acks, compression string
	count, size, lingerMs, batchSize    int
}

func die(what string, err any) {
	fmt.Fprintf(os.Stderr, "odradek-go peer: %s: %v\n", what, err)
	os.Exit(1)
}

func emit(v map[string]any) {
	v["client"] = "odradek-go " + odradek.Version()
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

// Random upper-case letters, like the other peers' payloads.
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
const chunk = 1000

func runProduce(o options) {
	acks := o.acks
	if acks == "all" {
		acks = "-1"
	}
	p, err := odradek.NewProducer(map[string]string{
		"bootstrap.servers":                     o.bootstrap,
		"acks":                                  acks,
		"compression.type":                      o.compression,
		"linger.ms":                             strconv.Itoa(o.lingerMs),
		"batch.size":                            strconv.Itoa(o.batchSize),
		"enable.idempotence":                    "false",
		"max.in.flight.requests.per.connection": "5",
		"queue.buffering.max.messages":          "1000000",
		"queue.buffering.max.kbytes":            "1048576",
	})
	if err != nil {
		die("new producer", err)
	}
	data := payloadPool(pool)
	records := make([]*odradek.Record, o.count)
	for i := range records {
		off := (i * 4099) % (pool - o.size)
		records[i] = &odradek.Record{Topic: o.topic, Value: data[off : off+o.size]}
	}
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	done := func(reports []odradek.DeliveryReport) {
		for _, r := range reports {
			if r.Err != nil && failed.Add(1) == 1 {
				firstErr.Store(r.Err)
			}
		}
		wg.Done()
	}
	t0 := time.Now()
	for i := 0; i < o.count; i += chunk {
		wg.Add(1)
		if err := p.ProduceBatchAsync(records[i:min(i+chunk, o.count)], done); err != nil {
			die("produce", err)
		}
	}
	wg.Wait()
	el := time.Since(t0).Seconds()
	if failed.Load() > 0 {
		die("produce", firstErr.Load())
	}
	p.Close()
	emit(map[string]any{"records": o.count, "bytes": o.count * o.size, "seconds": el})
}

func runConsume(o options) {
	c, err := odradek.NewConsumer(map[string]string{
		"bootstrap.servers":         o.bootstrap,
		"fetch.min.bytes":           "1",
		"max.partition.fetch.bytes": "1048576",
		"fetch.max.bytes":           "52428800",
	})
	if err != nil {
		die("new consumer", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	defer cancel()
	// Offset 0 (the topics are fresh), partition 0, no group.
	if err := c.Assign(ctx, []odradek.TopicPartition{{Topic: o.topic, Partition: 0, Offset: 0}}); err != nil {
		die("assign", err)
	}
	n, bytes := 0, 0
	var t0 time.Time
	for n < o.count {
		batch, err := c.PollBatch(ctx, min(10000, o.count-n))
		if err != nil {
			die("consume", err)
		}
		if n == 0 {
			t0 = time.Now() // steady-state rate: the clock starts at the first record
		}
		for _, r := range batch {
			n++
			bytes += len(r.Value)
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
