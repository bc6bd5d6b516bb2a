// Benchmark peer on franz-go (kgo): produce, consume and fixed-rate latency.
//
// Same command line and JSON output as the other peers (see bench/README.md). CPU and RSS are
// measured by the runner from outside the process.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type options struct {
	bootstrap, topic, acks, compression string
	count, size, lingerMs, batchSize    int
	rate                                int
	seconds                             float64
}

func die(what string, err any) {
	fmt.Fprintf(os.Stderr, "franz-go peer: %s: %v\n", what, err)
	os.Exit(1)
}

func version() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "github.com/twmb/franz-go" {
				return "franz-go " + d.Version
			}
		}
	}
	return "franz-go"
}

// Random upper-case letters, like kafka-tools ProducerPerformance's payloads.
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

func producerOpts(o options) []kgo.Opt {
	acks := kgo.LeaderAck()
	if o.acks == "all" {
		acks = kgo.AllISRAcks()
	}
	codec := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
		"gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
	}[o.compression]
	return []kgo.Opt{
		kgo.SeedBrokers(o.bootstrap),
		kgo.RequiredAcks(acks),
		kgo.DisableIdempotentWrite(),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(time.Duration(o.lingerMs) * time.Millisecond),
		kgo.ProducerBatchMaxBytes(int32(o.batchSize)),
		kgo.MaxProduceRequestsInflightPerBroker(5),
		kgo.MaxBufferedRecords(1_000_000),
		kgo.AllowAutoTopicCreation(),
		kgo.DefaultProduceTopic(o.topic),
	}
}

func consumerOpts(o options) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(o.bootstrap),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.topic: {0: kgo.NewOffset().At(0)}}),
		kgo.FetchMinBytes(1),
		kgo.FetchMaxPartitionBytes(1 << 20),
		kgo.FetchMaxBytes(50 << 20),
	}
}

func emit(v map[string]any) {
	v["client"] = version()
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func runProduce(o options) {
	p := payloadPool(pool)
	cl, err := kgo.NewClient(producerOpts(o)...)
	if err != nil {
		die("new client", err)
	}
	defer cl.Close()
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	wg.Add(o.count)
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			if failed.Add(1) == 1 {
				firstErr.Store(err)
			}
		}
		wg.Done()
	}
	ctx := context.Background()
	t0 := time.Now()
	for i := 0; i < o.count; i++ {
		off := (i * 4099) % (pool - o.size)
		cl.Produce(ctx, &kgo.Record{Value: p[off : off+o.size]}, done)
	}
	wg.Wait()
	el := time.Since(t0).Seconds()
	if failed.Load() > 0 {
		die("produce", firstErr.Load())
	}
	emit(map[string]any{"records": o.count, "bytes": o.count * o.size, "seconds": el})
}

func runConsume(o options) {
	cl, err := kgo.NewClient(consumerOpts(o)...)
	if err != nil {
		die("new client", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	defer cancel()
	n, bytes := 0, 0
	// Steady-state rate: the clock starts at the first record (not at connect).
	var t0 time.Time
	for n < o.count {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			die("consume", "timed out after 300 s")
		}
		fs.EachError(func(t string, p int32, err error) { die("fetch "+t, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if n == 0 {
				t0 = time.Now()
			}
			n++
			bytes += len(r.Value)
		})
	}
	emit(map[string]any{"records": n, "bytes": bytes, "seconds": time.Since(t0).Seconds()})
}

var epoch = time.Now()

func mono() int64 { return int64(time.Since(epoch)) }

func runLatency(o options) {
	if o.size < 8 {
		die("latency", "--size must be at least 8")
	}
	total := int(float64(o.rate) * o.seconds)
	prod, err := kgo.NewClient(producerOpts(o)...)
	if err != nil {
		die("new producer", err)
	}
	defer prod.Close()
	cons, err := kgo.NewClient(consumerOpts(o)...)
	if err != nil {
		die("new consumer", err)
	}
	defer cons.Close()
	lat := make([]int64, 0, total)
	var warm atomic.Bool
	finished := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		defer close(finished)
		for len(lat) < total {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			now := mono()
			fs.EachRecord(func(r *kgo.Record) {
				intended := int64(binary.LittleEndian.Uint64(r.Value))
				if intended == 0 {
					warm.Store(true)
				} else {
					lat = append(lat, now-intended)
				}
			})
		}
	}()
	value := payloadPool(o.size)
	binary.LittleEndian.PutUint64(value, 0)
	deadline := time.Now().Add(60 * time.Second)
	for !warm.Load() {
		if time.Now().After(deadline) {
			die("latency", "consumer saw no warm-up record in 60 s")
		}
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: append([]byte(nil), value...)}).FirstErr(); err != nil {
			die("warm-up produce", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var ackMu sync.Mutex
	acks := make([]int64, 0, total)
	start := mono() + int64(10*time.Millisecond)
	interval := int64(time.Second) / int64(o.rate)
	for i := 0; i < total; i++ {
		intended := start + int64(i)*interval
		if d := intended - mono(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		v := append([]byte(nil), value...)
		binary.LittleEndian.PutUint64(v, uint64(intended))
		prod.Produce(ctx, &kgo.Record{Value: v}, func(r *kgo.Record, err error) {
			if err != nil {
				die("produce", err)
			}
			// Produce latency: acknowledgement time - intended send time.
			now := mono()
			ackMu.Lock()
			acks = append(acks, now-int64(binary.LittleEndian.Uint64(r.Value)))
			ackMu.Unlock()
		})
	}
	if err := prod.Flush(ctx); err != nil {
		die("flush", err)
	}
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		die("latency", "not every record arrived within 30 s")
	}
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	ackMu.Lock()
	defer ackMu.Unlock()
	if len(acks) < total {
		die("latency", "not every record was acknowledged")
	}
	sort.Slice(acks, func(a, b int) bool { return acks[a] < acks[b] })
	pct := func(xs []int64, p float64) float64 { return float64(xs[int(p*float64(len(xs)-1))]) / 1000 }
	emit(map[string]any{"records": len(lat), "p50_us": pct(lat, 0.5), "p99_us": pct(lat, 0.99),
		"p999_us": pct(lat, 0.999), "max_us": float64(lat[len(lat)-1]) / 1000,
		"ack_p50_us": pct(acks, 0.5), "ack_p99_us": pct(acks, 0.99), "ack_p999_us": pct(acks, 0.999)})
}

func main() {
	if len(os.Args) < 2 {
		die("usage", "peer produce|consume|latency --bootstrap B --topic T ...")
	}
	var o options
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	fs.StringVar(&o.bootstrap, "bootstrap", "", "bootstrap address")
	fs.StringVar(&o.topic, "topic", "", "topic")
	fs.StringVar(&o.acks, "acks", "1", "1 or all")
	fs.StringVar(&o.compression, "compression", "none", "none, lz4, zstd")
	fs.IntVar(&o.count, "count", 100000, "records")
	fs.IntVar(&o.size, "size", 100, "value bytes")
	fs.IntVar(&o.lingerMs, "linger-ms", 5, "linger")
	fs.IntVar(&o.batchSize, "batch-size", 65536, "batch bytes")
	fs.IntVar(&o.rate, "rate", 1000, "records/s (latency)")
	fs.Float64Var(&o.seconds, "seconds", 5, "duration (latency)")
	if err := fs.Parse(os.Args[2:]); err != nil {
		die("flags", err)
	}
	if o.bootstrap == "" || o.topic == "" {
		die("usage", "--bootstrap and --topic are required")
	}
	switch os.Args[1] {
	case "produce":
		runProduce(o)
	case "consume":
		runConsume(o)
	case "latency":
		runLatency(o)
	default:
		die("unknown mode", os.Args[1])
	}
}
