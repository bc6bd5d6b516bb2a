// The Go peer of the cross-language test (tests/crosslang/README.md):
//
//	xlang produce BOOTSTRAP TOPIC RECORDS_JSON
//	xlang consume BOOTSTRAP TOPIC COUNT
package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	odradek "github.com/odradek/odradek/go"
)

// bytesSpec decodes the bytes notation of tests/conformance/README.md.
func bytesSpec(raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []byte(s), nil
	}
	var o struct {
		Hex    *string `json:"hex"`
		Repeat *string `json:"repeat"`
		Count  int     `json:"count"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, err
	}
	if o.Hex != nil {
		return hex.DecodeString(*o.Hex)
	}
	if o.Repeat != nil {
		return []byte(strings.Repeat(*o.Repeat, o.Count)), nil
	}
	return nil, fmt.Errorf("not a bytes value: %s", raw)
}

func produce(bootstrap, topic, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc struct {
		Records []struct {
			Key     json.RawMessage     `json:"key"`
			Value   json.RawMessage     `json:"value"`
			Headers [][]json.RawMessage `json:"headers"`
		} `json:"records"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	p, err := odradek.NewProducer(map[string]string{"bootstrap.servers": bootstrap, "linger.ms": "0"})
	if err != nil {
		return err
	}
	defer p.Close()
	var records []*odradek.Record
	for _, r := range doc.Records {
		rec := &odradek.Record{Topic: topic, Partition: 0, UsePartition: true}
		if rec.Key, err = bytesSpec(r.Key); err != nil {
			return err
		}
		if rec.Value, err = bytesSpec(r.Value); err != nil {
			return err
		}
		for _, h := range r.Headers {
			var name string
			if err := json.Unmarshal(h[0], &name); err != nil {
				return err
			}
			v, err := bytesSpec(h[1])
			if err != nil {
				return err
			}
			rec.Headers = append(rec.Headers, odradek.Header{Key: name, Value: v})
		}
		records = append(records, rec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reports, err := p.ProduceBatch(ctx, records)
	if err != nil {
		return err
	}
	for i, r := range reports {
		if r.Err != nil {
			return fmt.Errorf("record %d: %w", i, r.Err)
		}
	}
	return nil
}

func hexOrNull(b []byte) any {
	if b == nil {
		return nil
	}
	return hex.EncodeToString(b)
}

func consume(bootstrap, topic string, count int) error {
	c, err := odradek.NewConsumer(map[string]string{"bootstrap.servers": bootstrap})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Assign(ctx, []odradek.TopicPartition{{Topic: topic, Partition: 0, Offset: odradek.OffsetBeginning}}); err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for n := 0; n < count; n++ {
		r, err := c.Poll(ctx)
		if err != nil {
			return fmt.Errorf("after %d of %d records: %w", n, count, err)
		}
		headers := [][]any{}
		for _, h := range r.Headers {
			headers = append(headers, []any{h.Key, hexOrNull(h.Value)})
		}
		line, err := json.Marshal(map[string]any{"offset": r.Offset, "key": hexOrNull(r.Key), "value": hexOrNull(r.Value), "headers": headers})
		if err != nil {
			return err
		}
		out.Write(append(line, '\n'))
	}
	return nil
}

func main() {
	var err error
	switch {
	case len(os.Args) == 5 && os.Args[1] == "produce":
		err = produce(os.Args[2], os.Args[3], os.Args[4])
	case len(os.Args) == 5 && os.Args[1] == "consume":
		var n int
		if n, err = strconv.Atoi(os.Args[4]); err == nil {
			err = consume(os.Args[2], os.Args[3], n)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: xlang produce BOOTSTRAP TOPIC RECORDS_JSON | consume BOOTSTRAP TOPIC COUNT")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
