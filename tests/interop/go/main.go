// Command franz is the franz-go (kgo) side of the Odradek interop suite.
//
//	franz produce BOOTSTRAP COMPRESSION < records   # lines: topic \t partition \t - \t key \t value \t headers
//	franz consume BOOTSTRAP TOPIC:PARTITIONS...    # same lines on stdout, with offsets
//	franz topics BOOTSTRAP                         # the topics Metadata lists, one a line
//
// Keys and values are base64 or "-" for null; headers are comma-separated key:value pairs of
// base64 (value "-" for null). The consumer reads every listed partition from the start up to the
// end offset it saw when it began, without a consumer group.
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	if len(os.Args) < 3 {
		fail("usage: franz produce BOOTSTRAP COMPRESSION | franz consume BOOTSTRAP TOPIC:PARTITIONS...")
	}
	var err error
	if extra, err = securityOpts(); err != nil {
		fail(err.Error())
	}
	switch os.Args[1] {
	case "produce":
		if len(os.Args) != 4 {
			fail("usage: franz produce BOOTSTRAP COMPRESSION")
		}
		err = produce(os.Args[2], os.Args[3], os.Stdin)
	case "consume":
		err = consume(os.Args[2], os.Args[3:], os.Stdout)
	case "topics":
		err = topics(os.Args[2], os.Stdout)
	default:
		fail("unknown command " + os.Args[1])
	}
	if err != nil {
		fail(err.Error())
	}
}

// extra holds the security options every client gets (security.go).
var extra []kgo.Opt

func client(opts ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append(append([]kgo.Opt{}, extra...), opts...)...)
}

func topics(bootstrap string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := client(kgo.SeedBrokers(bootstrap))
	if err != nil {
		return err
	}
	defer cl.Close()
	listed, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		return err
	}
	for _, name := range listed.Names() {
		fmt.Fprintln(out, name)
	}
	return nil
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "franz:", msg)
	os.Exit(1)
}

func codec(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("unknown compression %q", name)
}

func decodeBytes(field string) ([]byte, error) {
	if field == "-" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(field)
	if b == nil && err == nil {
		b = []byte{}
	}
	return b, err
}

func encodeBytes(b []byte) string {
	if b == nil {
		return "-"
	}
	return base64.StdEncoding.EncodeToString(b)
}

func parseLine(line string) (*kgo.Record, error) {
	f := strings.Split(line, "\t")
	if len(f) != 6 {
		return nil, fmt.Errorf("record line has %d fields, want 6: %q", len(f), line)
	}
	p, err := strconv.ParseInt(f[1], 10, 32)
	if err != nil {
		return nil, err
	}
	r := &kgo.Record{Topic: f[0], Partition: int32(p)}
	if r.Key, err = decodeBytes(f[3]); err != nil {
		return nil, err
	}
	if r.Value, err = decodeBytes(f[4]); err != nil {
		return nil, err
	}
	if f[5] != "" {
		for _, h := range strings.Split(f[5], ",") {
			kv := strings.SplitN(h, ":", 2)
			if len(kv) != 2 {
				return nil, fmt.Errorf("bad header %q", h)
			}
			k, err := base64.StdEncoding.DecodeString(kv[0])
			if err != nil {
				return nil, err
			}
			v, err := decodeBytes(kv[1])
			if err != nil {
				return nil, err
			}
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: string(k), Value: v})
		}
	}
	return r, nil
}

func formatRecord(r *kgo.Record) string {
	hs := make([]string, 0, len(r.Headers))
	for _, h := range r.Headers {
		hs = append(hs, base64.StdEncoding.EncodeToString([]byte(h.Key))+":"+encodeBytes(h.Value))
	}
	return fmt.Sprintf("%s\t%d\t%d\t%s\t%s\t%s\n", r.Topic, r.Partition, r.Offset,
		encodeBytes(r.Key), encodeBytes(r.Value), strings.Join(hs, ","))
}

func produce(bootstrap, compression string, in io.Reader) error {
	c, err := codec(compression)
	if err != nil {
		return err
	}
	// Explicit partitions from the input; acks=all with idempotence (kgo's default) keeps order.
	cl, err := client(kgo.SeedBrokers(bootstrap), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(c))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var firstErr error
	sent := 0
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		r, err := parseLine(sc.Text())
		if err != nil {
			return err
		}
		sent++
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("delivery to %s/%d failed: %w", r.Topic, r.Partition, err)
				}
				mu.Unlock()
			}
		})
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	if firstErr == nil {
		fmt.Fprintf(os.Stderr, "franz: %d records acknowledged\n", sent)
	}
	return firstErr
}

func consume(bootstrap string, specs []string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adm, err := client(kgo.SeedBrokers(bootstrap))
	if err != nil {
		return err
	}
	topics := []string{}
	for _, s := range specs {
		topics = append(topics, strings.SplitN(s, ":", 2)[0])
	}
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topics...)
	adm.Close()
	if err != nil {
		return err
	}
	if err := ends.Error(); err != nil {
		return err
	}
	assign := map[string]map[int32]kgo.Offset{}
	remaining := map[string]map[int32]int64{}
	for _, s := range specs {
		tp := strings.SplitN(s, ":", 2)
		if len(tp) != 2 {
			return fmt.Errorf("bad TOPIC:PARTITIONS %q", s)
		}
		n, err := strconv.Atoi(tp[1])
		if err != nil {
			return err
		}
		assign[tp[0]] = map[int32]kgo.Offset{}
		remaining[tp[0]] = map[int32]int64{}
		for p := int32(0); p < int32(n); p++ {
			end, ok := ends.Lookup(tp[0], p)
			if !ok {
				return fmt.Errorf("no end offset for %s/%d", tp[0], p)
			}
			if end.Offset > 0 {
				assign[tp[0]][p] = kgo.NewOffset().AtStart()
				remaining[tp[0]][p] = end.Offset
			}
		}
	}
	cl, err := client(kgo.SeedBrokers(bootstrap), kgo.ConsumePartitions(assign))
	if err != nil {
		return err
	}
	defer cl.Close()
	w := bufio.NewWriter(out)
	defer w.Flush()
	left := 0
	for _, ps := range remaining {
		left += len(ps)
	}
	for left > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("timed out with %d partitions not read to their end: %v", left, remaining)
		}
		fetches.EachError(func(t string, p int32, err error) {
			fmt.Fprintf(os.Stderr, "franz: fetch %s/%d: %v\n", t, p, err)
		})
		var ferr error
		fetches.EachRecord(func(r *kgo.Record) {
			end, open := remaining[r.Topic][r.Partition]
			if !open || r.Offset >= end {
				return
			}
			if _, err := w.WriteString(formatRecord(r)); err != nil && ferr == nil {
				ferr = err
			}
			if r.Offset+1 >= end {
				delete(remaining[r.Topic], r.Partition)
				left--
			}
		})
		if ferr != nil {
			return ferr
		}
	}
	return nil
}
