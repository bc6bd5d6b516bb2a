package odradek

// The share-consumer ops of the conformance runner (tests/conformance/README.md):
// share_consumer, share_subscribe, share_poll, acknowledge, share_commit.

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"time"
)

var acknowledgeTypes = map[string]AcknowledgeType{
	"accept": AcknowledgeAccept, "release": AcknowledgeRelease, "reject": AcknowledgeReject,
}

func (r *runner) shareOf(step map[string]json.RawMessage) (*confClient, error) {
	c, err := r.client(step)
	if err == nil && c.share == nil {
		err = mismatch("client is not a share consumer")
	}
	return c, err
}

// pollShare polls once for up to d; an empty poll is no error.
func pollShare(c *ShareConsumer, d time.Duration) ([]*ShareRecord, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	got, err := c.Poll(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, nil
	}
	return got, err
}

func (r *runner) shareStep(op string, step map[string]json.RawMessage) error {
	if op == "share_consumer" {
		name, err := get[string](step, "client")
		if err != nil {
			return err
		}
		cfg, err := configOf(step, r.base)
		if err != nil {
			return err
		}
		c, err := NewShareConsumer(cfg)
		if err != nil {
			return err
		}
		r.clients[name] = &confClient{share: c}
		return nil
	}
	c, err := r.shareOf(step)
	if err != nil {
		return err
	}
	switch op {
	case "share_subscribe":
		return shareSubscribe(c, step)
	case "share_poll":
		return sharePoll(c, step)
	case "acknowledge":
		return acknowledge(c, step)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.share.CommitSync(ctx)
}

// shareSubscribe polls until the member is assigned, then once more: the share-partition starts
// at the log's end when first fetched.
func shareSubscribe(c *confClient, step map[string]json.RawMessage) error {
	topics, err := get[[]string](step, "topics")
	if err != nil {
		return err
	}
	ms, err := get[int](step, "timeout_ms")
	if err != nil {
		return err
	}
	if err := c.share.Subscribe(topics...); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Duration(ms) * time.Millisecond)
	for {
		parts, err := c.share.Assignment()
		if err != nil {
			return err
		}
		got, err := pollShare(c.share, 100*time.Millisecond)
		if err != nil {
			return err
		}
		if len(got) > 0 {
			return mismatch("a record arrived before any was produced: %s@%d", got[0].Topic, got[0].Offset)
		}
		if len(parts) > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return mismatch("no share assignment within %d ms", ms)
		}
	}
}

func sharePoll(c *confClient, step map[string]json.RawMessage) error {
	count, err := get[int](step, "count")
	if err != nil {
		return err
	}
	ms, err := get[int](step, "timeout_ms")
	if err != nil {
		return err
	}
	deadline := time.Now().Add(time.Duration(ms) * time.Millisecond)
	var got []*ShareRecord
	for {
		slice := min(time.Until(deadline), 200*time.Millisecond)
		batch, err := pollShare(c.share, max(slice, time.Millisecond))
		if err != nil {
			return err
		}
		got = append(got, batch...)
		done := len(got) >= count
		if count == 0 {
			done = len(got) > 0
		}
		if done || !time.Now().Before(deadline) {
			break
		}
	}
	c.received = append(c.received, got...)
	if len(got) != count {
		return mismatch("received %d records, expected %d", len(got), count)
	}
	sort.SliceStable(got, func(i, j int) bool {
		a, b := got[i], got[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		if a.Partition != b.Partition {
			return a.Partition < b.Partition
		}
		return a.Offset < b.Offset
	})
	if _, ok := step["expect"]; !ok {
		return nil
	}
	exp, err := get[[]map[string]json.RawMessage](step, "expect")
	if err != nil {
		return err
	}
	for i, e := range exp {
		if i >= len(got) {
			return mismatch("expected %d records, got %d", len(exp), len(got))
		}
		fields := map[string]json.RawMessage{}
		for k, v := range e {
			fields[k] = v
		}
		if raw, ok := fields["delivery_count"]; ok {
			delete(fields, "delivery_count")
			var want int16
			if json.Unmarshal(raw, &want); want != got[i].DeliveryCount {
				return mismatch("record %d: delivery_count %d, expected %d", i, got[i].DeliveryCount, want)
			}
		}
		if err := matchRecord(got[i].Record, fields); err != nil {
			return mismatch("record %d (%s-%d@%d): %v", i, got[i].Topic, got[i].Partition, got[i].Offset, err)
		}
	}
	return nil
}

func acknowledge(c *confClient, step map[string]json.RawMessage) error {
	topic, err := get[string](step, "topic")
	if err != nil {
		return err
	}
	partition, err := get[int32](step, "partition")
	if err != nil {
		return err
	}
	offsets, err := get[[]int64](step, "offsets")
	if err != nil {
		return err
	}
	name, err := get[string](step, "type")
	if err != nil {
		return err
	}
	kind, ok := acknowledgeTypes[name]
	if !ok {
		return mismatch("unknown acknowledge type %q", name)
	}
	for _, o := range offsets {
		var found *ShareRecord
		for _, rec := range c.received {
			if rec.Topic == topic && rec.Partition == partition && rec.Offset == o {
				found = rec
			}
		}
		if found == nil {
			return mismatch("no record %s-%d@%d was received", topic, partition, o)
		}
		if err := c.share.Acknowledge(found, kind); err != nil {
			return err
		}
	}
	return nil
}
