package odradek

/*
#include <stdlib.h>
#include "odradek.h"
extern OdradekError *odradek_go_set_rebalance(const OdradekConsumer *c, uintptr_t ctx);
extern OdradekError *odradek_go_consumer_new(const OdradekConfigEntry *c, size_t n, uintptr_t token,
		OdradekConsumer **out);
*/
import "C"

import (
	"context"
	"fmt"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// Offsets with a meaning of their own, for Assign and Seek.
const (
	OffsetBeginning int64 = C.ODRADEK_OFFSET_BEGINNING // the first offset of the partition
	OffsetEnd       int64 = C.ODRADEK_OFFSET_END       // only records produced from now on
	OffsetStored    int64 = C.ODRADEK_OFFSET_STORED    // the group's committed offset, else auto.offset.reset
	OffsetInvalid   int64 = C.ODRADEK_OFFSET_INVALID   // no offset (a position not known yet, nothing committed)
)

// TopicPartition names a partition, with an offset where the call needs one.
type TopicPartition struct {
	Topic     string
	Partition int32
	Offset    int64
}

// RebalanceKind says what happened to the partitions of a RebalanceEvent.
type RebalanceKind int

const (
	// PartitionsAssigned: partitions newly assigned to this member.
	PartitionsAssigned RebalanceKind = 1
	// PartitionsRevoked: partitions taken away in an orderly rebalance.
	PartitionsRevoked RebalanceKind = 2
	// PartitionsLost: partitions lost without a rebalance (nothing was committed).
	PartitionsLost RebalanceKind = 3
)

// RebalanceEvent is a change of the partitions this group member owns.
type RebalanceEvent struct {
	Kind       RebalanceKind
	Partitions []TopicPartition
}

// Consumer reads records: assigned partitions (Assign) or a consumer group's share
// (Subscribe, with "group.id"). Safe for concurrent use; Close it when done.
type Consumer struct {
	mu        sync.RWMutex // read-held by every native call; Close takes it to free the handle
	handle    *C.OdradekConsumer
	rebalance cgo.Handle
	token     cgo.Handle // the TokenProvider, if any
	errors    errorSlot  // the OnError handler, if any

	// Records goroutines: Close stops them and waits, so a record one of them took but could
	// not send is given back (a seek to it) before the commit on close.
	readers      sync.WaitGroup
	closing      context.Context
	closeReaders context.CancelFunc
}

// NewConsumer creates a consumer from librdkafka / Java property names. Options:
// WithTokenProvider.
func NewConsumer(config map[string]string, opts ...Option) (*Consumer, error) {
	cfg := newCConfig(config)
	defer cfg.free()
	token := tokenHandle(opts)
	var h *C.OdradekConsumer
	if err := takeError(C.odradek_go_consumer_new(cfg.entries, cfg.n, C.uintptr_t(token), &h)); err != nil {
		deleteHandle(&token)
		return nil, err
	}
	liveHandles.Add(1)
	c := &Consumer{handle: h, token: token}
	c.closing, c.closeReaders = context.WithCancel(context.Background())
	return c, nil
}

func (c *Consumer) call(f func(h *C.OdradekConsumer) error) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.handle == nil {
		return ErrClosed
	}
	return f(c.handle)
}

//export odradekGoRebalance
func odradekGoRebalance(ctx C.uintptr_t, event C.int32_t, parts *C.OdradekTopicPartition, count C.size_t) {
	handler := cgo.Handle(ctx).Value().(func(RebalanceEvent))
	ev := RebalanceEvent{Kind: RebalanceKind(event)}
	for _, p := range unsafe.Slice(parts, int(count)) {
		ev.Partitions = append(ev.Partitions, TopicPartition{Topic: C.GoString(p.topic), Partition: int32(p.partition), Offset: OffsetInvalid})
	}
	handler(ev)
}

// OnRebalance sets the function called when the group assigns, revokes or loses partitions
// of this member (needs "group.id"; set it before Subscribe). It runs on the consumer's
// rebalance thread while the group waits (up to max.poll.interval.ms) and may call back into
// the consumer: a Commit on PartitionsRevoked lands before another member gets the partitions.
// Close runs it for the partitions still owned before the consumer is closed.
func (c *Consumer) OnRebalance(handler func(RebalanceEvent)) error {
	return c.call(func(h *C.OdradekConsumer) error { return c.setRebalance(h, handler) })
}

// setRebalance registers handler (nil: none).
func (c *Consumer) setRebalance(h *C.OdradekConsumer, handler func(RebalanceEvent)) error {
	wrapped := func(ev RebalanceEvent) {
		if handler != nil {
			handler(ev)
		}
	}
	nh := cgo.NewHandle(wrapped)
	if err := takeError(C.odradek_go_set_rebalance(h, C.uintptr_t(nh))); err != nil {
		nh.Delete()
		return err
	}
	if c.rebalance != 0 {
		c.rebalance.Delete()
	}
	c.rebalance = nh
	return nil
}

type cStrings struct {
	arr  **C.char
	strs []*C.char
}

func newCStrings(ss []string) *cStrings {
	cs := &cStrings{}
	if len(ss) == 0 {
		return cs
	}
	cs.arr = (**C.char)(C.malloc(C.size_t(unsafe.Sizeof((*C.char)(nil))) * C.size_t(len(ss))))
	arr := unsafe.Slice(cs.arr, len(ss))
	for i, s := range ss {
		arr[i] = C.CString(s)
		cs.strs = append(cs.strs, arr[i])
	}
	return cs
}

func (cs *cStrings) free() {
	for _, s := range cs.strs {
		C.free(unsafe.Pointer(s))
	}
	if cs.arr != nil {
		C.free(unsafe.Pointer(cs.arr))
	}
}

// Subscribe joins the consumer group (needs "group.id") for these topics, replacing an earlier
// subscription. The assignment arrives while polling.
func (c *Consumer) Subscribe(topics ...string) error {
	return c.call(func(h *C.OdradekConsumer) error {
		if c.rebalance == 0 {
			if err := c.setRebalance(h, nil); err != nil {
				return err
			}
		}
		cs := newCStrings(topics)
		defer cs.free()
		return takeError(C.odradek_consumer_subscribe(h, (**C.char)(unsafe.Pointer(cs.arr)), C.size_t(len(topics))))
	})
}

// cPartitions is a C array of OdradekTopicPartition.
type cPartitions struct {
	arr  *C.OdradekTopicPartition
	strs []*C.char
	n    int
}

func newCPartitions(ps []TopicPartition) *cPartitions {
	cp := &cPartitions{n: len(ps)}
	if len(ps) == 0 {
		return cp
	}
	cp.arr = (*C.OdradekTopicPartition)(C.malloc(C.size_t(unsafe.Sizeof(C.OdradekTopicPartition{})) * C.size_t(len(ps))))
	arr := unsafe.Slice(cp.arr, len(ps))
	for i, p := range ps {
		t := C.CString(p.Topic)
		cp.strs = append(cp.strs, t)
		arr[i] = C.OdradekTopicPartition{topic: t, partition: C.int32_t(p.Partition), offset: C.int64_t(p.Offset)}
	}
	return cp
}

func (cp *cPartitions) slice() []C.OdradekTopicPartition { return unsafe.Slice(cp.arr, cp.n) }

func (cp *cPartitions) free() {
	for _, s := range cp.strs {
		C.free(unsafe.Pointer(s))
	}
	if cp.arr != nil {
		C.free(unsafe.Pointer(cp.arr))
	}
}

// Assign reads these partitions by hand (replacing an earlier manual assignment), each from
// its Offset: ≥ 0, OffsetBeginning, OffsetEnd or OffsetStored.
func (c *Consumer) Assign(ctx context.Context, partitions []TopicPartition) error {
	return c.call(func(h *C.OdradekConsumer) error {
		cp := newCPartitions(partitions)
		defer cp.free()
		s := newCancelScope(ctx)
		return s.finish(ctx, takeError(C.odradek_consumer_assign(h, cp.arr, C.size_t(cp.n), s.timeout)))
	})
}

// Unassign drops the manual assignment.
func (c *Consumer) Unassign() error {
	return c.call(func(h *C.OdradekConsumer) error { return takeError(C.odradek_consumer_unassign(h)) })
}

// Assignment is the partitions this consumer reads now, each with its position (Offset).
func (c *Consumer) Assignment() ([]TopicPartition, error) {
	var out []TopicPartition
	err := c.call(func(h *C.OdradekConsumer) error {
		var arr *C.OdradekTopicPartition
		var n C.size_t
		if err := takeError(C.odradek_consumer_assignment(h, &arr, &n)); err != nil {
			return err
		}
		defer C.odradek_topic_partitions_free(arr, n)
		for _, p := range unsafe.Slice(arr, int(n)) {
			out = append(out, TopicPartition{Topic: C.GoString(p.topic), Partition: int32(p.partition), Offset: int64(p.offset)})
		}
		return nil
	})
	return out, err
}

func copyMessages(list *C.OdradekMessageList) []*Record {
	msgs := unsafe.Slice(list.messages, int(list.count))
	out := make([]*Record, len(msgs))
	topics := map[*C.char]string{}
	for i := range msgs {
		m := &msgs[i]
		topic, ok := topics[m.topic]
		if !ok {
			topic = C.GoString(m.topic)
			topics[m.topic] = topic
		}
		r := &Record{
			Topic:     topic,
			Partition: int32(m.partition),
			Offset:    int64(m.offset),
			Timestamp: time.UnixMilli(int64(m.timestamp)),
			Key:       goBytes(m.key, m.key_len),
			Value:     goBytes(m.value, m.value_len),
		}
		if m.headers_len > 0 {
			r.Headers = make([]Header, int(m.headers_len))
			for j, h := range unsafe.Slice(m.headers, int(m.headers_len)) {
				r.Headers[j] = Header{Key: C.GoStringN(h.name, C.int(h.name_len)), Value: goBytes(h.value, h.value_len)}
			}
		}
		out[i] = r
	}
	return out
}

func goBytes(p *C.uint8_t, n C.size_t) []byte {
	if p == nil {
		return nil
	}
	if n == 0 {
		return []byte{}
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}

// PollBatch returns up to max records: it waits for the first (until ctx ends: then it returns
// ctx.Err()) and takes what else the consumer has fetched, up to max. Every record returned
// counts as handed out (position, Commit, the commit on Close); nothing is kept on the Go side.
func (c *Consumer) PollBatch(ctx context.Context, max int) ([]*Record, error) {
	if max < 1 {
		max = 1
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var records []*Record
		err := c.call(func(h *C.OdradekConsumer) error {
			s := newCancelScope(ctx)
			var list *C.OdradekMessageList
			err := s.finish(ctx, takeError(C.odradek_consumer_poll(h, C.size_t(max), s.timeout, s.token, &list)))
			if list != nil {
				records = copyMessages(list)
				C.odradek_message_list_free(list)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if len(records) > 0 {
			return records, nil
		}
		// An empty list: the native timeout (the ctx deadline) passed; the loop returns
		// ctx.Err() once the context says so.
	}
}

// Poll returns the next record, waiting until ctx ends (then ctx.Err()).
func (c *Consumer) Poll(ctx context.Context) (*Record, error) {
	records, err := c.PollBatch(ctx, 1)
	if err != nil {
		return nil, err
	}
	return records[0], nil
}

// Records streams records on a channel until ctx ends or the consumer is closed (then the
// channel is closed; a read error is sent on errs first). A record counts as handed out once it
// is received from the channel: the ones not received go back to the consumer, so the commit
// on Close does not cover them.
func (c *Consumer) Records(ctx context.Context) (records <-chan *Record, errs <-chan error) {
	out := make(chan *Record)
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.closing, cancel)
	c.readers.Add(1)
	go func() {
		defer c.readers.Done()
		defer close(out)
		defer close(errc)
		defer stop()
		defer cancel()
		for {
			r, err := c.Poll(ctx)
			if err != nil {
				if ctx.Err() == nil && !isClosed(err) {
					errc <- err
				}
				return
			}
			select {
			case out <- r:
			case <-ctx.Done():
				// Taken but never received: the consumer reads it again, and neither the
				// position nor a commit covers it.
				_ = c.Seek(r.Topic, r.Partition, r.Offset)
				return
			}
		}
	}()
	return out, errc
}

func isClosed(err error) bool {
	e, ok := err.(*Error)
	return ok && e.Code == ErrClosed.Code
}

// Seek makes the next record read from this partition be at offset (≥ 0, OffsetBeginning or
// OffsetEnd). Commit without offsets then commits this position, as in the Java client.
func (c *Consumer) Seek(topic string, partition int32, offset int64) error {
	return c.call(func(h *C.OdradekConsumer) error {
		ct := C.CString(topic)
		defer C.free(unsafe.Pointer(ct))
		return takeError(C.odradek_consumer_seek(h, ct, C.int32_t(partition), C.int64_t(offset)))
	})
}

// Position is the offset of the next record this consumer hands out from the partition
// (OffsetInvalid when unknown).
func (c *Consumer) Position(topic string, partition int32) (int64, error) {
	pos := OffsetInvalid
	err := c.call(func(h *C.OdradekConsumer) error {
		ct := C.CString(topic)
		defer C.free(unsafe.Pointer(ct))
		var out C.int64_t
		if err := takeError(C.odradek_consumer_position(h, ct, C.int32_t(partition), &out)); err != nil {
			return err
		}
		pos = int64(out)
		return nil
	})
	if err != nil {
		return OffsetInvalid, err
	}
	return pos, nil
}

// Pause stops handing out and fetching these partitions until Resume: records fetched
// before are held, and the position does not move.
func (c *Consumer) Pause(partitions []TopicPartition) error {
	return c.call(func(h *C.OdradekConsumer) error {
		cp := newCPartitions(partitions)
		defer cp.free()
		return takeError(C.odradek_consumer_pause(h, cp.arr, C.size_t(cp.n)))
	})
}

// Resume hands out and fetches these partitions again, the held records first.
func (c *Consumer) Resume(partitions []TopicPartition) error {
	return c.call(func(h *C.OdradekConsumer) error {
		cp := newCPartitions(partitions)
		defer cp.free()
		return takeError(C.odradek_consumer_resume(h, cp.arr, C.size_t(cp.n)))
	})
}

// Watermarks returns the low (first offset) and high (after the last stable record) watermarks
// of a partition, asked from its leader.
func (c *Consumer) Watermarks(ctx context.Context, topic string, partition int32) (low, high int64, err error) {
	err = c.call(func(h *C.OdradekConsumer) error {
		ct := C.CString(topic)
		defer C.free(unsafe.Pointer(ct))
		var l, hi C.int64_t
		s := newCancelScope(ctx)
		if err := s.finish(ctx, takeError(C.odradek_consumer_watermarks(h, ct, C.int32_t(partition), &l, &hi, s.timeout, s.token))); err != nil {
			return err
		}
		low, high = int64(l), int64(hi)
		return nil
	})
	return low, high, err
}

// Commit commits synchronously the positions of every partition read so far (needs
// "group.id").
func (c *Consumer) Commit(ctx context.Context) error {
	return c.CommitOffsets(ctx, nil)
}

// CommitOffsets commits these offsets (each the next offset to read) synchronously.
func (c *Consumer) CommitOffsets(ctx context.Context, offsets []TopicPartition) error {
	return c.call(func(h *C.OdradekConsumer) error {
		cp := newCPartitions(offsets)
		defer cp.free()
		s := newCancelScope(ctx)
		return s.finish(ctx, takeError(C.odradek_consumer_commit(h, cp.arr, C.size_t(cp.n), s.timeout, s.token)))
	})
}

// Committed returns the group's committed offsets of these partitions (Offset is
// OffsetInvalid when nothing is committed).
func (c *Consumer) Committed(ctx context.Context, partitions []TopicPartition) ([]TopicPartition, error) {
	var out []TopicPartition
	err := c.call(func(h *C.OdradekConsumer) error {
		cp := newCPartitions(partitions)
		defer cp.free()
		s := newCancelScope(ctx)
		if err := s.finish(ctx, takeError(C.odradek_consumer_committed(h, cp.arr, C.size_t(cp.n), s.timeout, s.token))); err != nil {
			return err
		}
		for i, p := range cp.slice() {
			out = append(out, TopicPartition{Topic: partitions[i].Topic, Partition: partitions[i].Partition, Offset: int64(p.offset)})
		}
		return nil
	})
	return out, err
}

// Close leaves the group (committing processed offsets when auto-commit is on), stops
// fetching and frees the consumer. Polls still waiting return ErrClosed. Idempotent.
func (c *Consumer) Close() error {
	c.closeReaders()
	c.readers.Wait()
	c.mu.RLock()
	h := c.handle
	var err error
	if h != nil {
		// Cleared before the write lock: a running handler may still call the consumer.
		_ = c.errors.set(nil, consumerErrors(h))
		err = takeError(C.odradek_consumer_close(h, -1))
	}
	c.mu.RUnlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.handle != nil {
		C.odradek_consumer_free(c.handle)
		c.handle = nil
		liveHandles.Add(-1)
		deleteHandle(&c.token)
		if c.rebalance != 0 {
			c.rebalance.Delete()
			c.rebalance = 0
		}
	}
	return err
}

func (k RebalanceKind) String() string {
	switch k {
	case PartitionsAssigned:
		return "assigned"
	case PartitionsRevoked:
		return "revoked"
	case PartitionsLost:
		return "lost"
	}
	return fmt.Sprintf("RebalanceKind(%d)", int(k))
}
