package odradek

/*
#include <stdlib.h>
#include "odradek.h"
*/
import "C"

import (
	"context"
	"sync"
	"time"
	"unsafe"
)

// AcknowledgeType says what became of a record a ShareConsumer handed out.
type AcknowledgeType int

const (
	// AcknowledgeAccept: processed; the record is never delivered again.
	AcknowledgeAccept AcknowledgeType = C.ODRADEK_ACKNOWLEDGE_ACCEPT
	// AcknowledgeRelease: not processed; the record is delivered again (to any member) with its
	// delivery count one higher.
	AcknowledgeRelease AcknowledgeType = C.ODRADEK_ACKNOWLEDGE_RELEASE
	// AcknowledgeReject: cannot be processed; the record is never delivered again.
	AcknowledgeReject AcknowledgeType = C.ODRADEK_ACKNOWLEDGE_REJECT
)

// ShareRecord is a record handed out by a ShareConsumer, with how often it has been delivered.
type ShareRecord struct {
	*Record
	// DeliveryCount is 1 the first time, 2 after one release or lock timeout, ...
	DeliveryCount int16
}

// ShareConsumer is a member of a share group (KIP-932, "queues for Kafka"; needs "group.id"):
// members read the same partitions and the broker hands each record to one member at a time,
// which acknowledges it (Acknowledge). With "share.acknowledgement.mode" "implicit" (the
// default) records not acknowledged are accepted at the next Poll or CommitSync; with
// "explicit" each must be acknowledged before the next Poll. Safe for concurrent use; Close it
// when done.
type ShareConsumer struct {
	mu     sync.RWMutex // read-held by every native call; Close takes it to free the handle
	handle *C.OdradekShareConsumer
}

// NewShareConsumer creates a share consumer from librdkafka / Java property names.
func NewShareConsumer(config map[string]string) (*ShareConsumer, error) {
	cfg := newCConfig(config)
	defer cfg.free()
	var h *C.OdradekShareConsumer
	if err := takeError(C.odradek_share_consumer_new(cfg.entries, cfg.n, &h)); err != nil {
		return nil, err
	}
	liveHandles.Add(1)
	return &ShareConsumer{handle: h}, nil
}

func (c *ShareConsumer) call(f func(h *C.OdradekShareConsumer) error) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.handle == nil {
		return ErrClosed
	}
	return f(c.handle)
}

// Subscribe subscribes to these topics, replacing the previous subscription. The coordinator's
// assignment arrives while polling.
func (c *ShareConsumer) Subscribe(topics ...string) error {
	return c.call(func(h *C.OdradekShareConsumer) error {
		cs := newCStrings(topics)
		defer cs.free()
		return takeError(C.odradek_share_consumer_subscribe(h, (**C.char)(unsafe.Pointer(cs.arr)), C.size_t(len(topics))))
	})
}

// Assignment is the partitions the coordinator assigned to this member now (Offset unused).
func (c *ShareConsumer) Assignment() ([]TopicPartition, error) {
	var out []TopicPartition
	err := c.call(func(h *C.OdradekShareConsumer) error {
		var arr *C.OdradekTopicPartition
		var n C.size_t
		if err := takeError(C.odradek_share_consumer_assignment(h, &arr, &n)); err != nil {
			return err
		}
		defer C.odradek_topic_partitions_free(arr, n)
		for _, p := range unsafe.Slice(arr, int(n)) {
			out = append(out, TopicPartition{Topic: C.GoString(p.topic), Partition: int32(p.partition), Offset: OffsetInvalid})
		}
		return nil
	})
	return out, err
}

// pollSlice bounds one native poll, so that ctx is checked at least this often.
const pollSlice = 500 * time.Millisecond

// Poll waits for records until ctx ends (then it returns ctx.Err()). The acknowledgements of
// the records handed out before travel with it. The wait is cut into native polls of at most
// pollSlice that always run to their end: interrupting a fetch would leave the records it
// acquired locked until their acquisition locks time out.
func (c *ShareConsumer) Poll(ctx context.Context) ([]*ShareRecord, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		wait := pollSlice
		if d, ok := ctx.Deadline(); ok {
			wait = max(0, min(wait, time.Until(d)))
		}
		var records []*ShareRecord
		err := c.call(func(h *C.OdradekShareConsumer) error {
			var list *C.OdradekShareMessageList
			err := takeError(C.odradek_share_consumer_poll(h, C.int32_t(wait.Milliseconds()), nil, &list))
			if list != nil {
				plain := C.OdradekMessageList{messages: list.messages, count: list.count}
				counts := unsafe.Slice(list.delivery_counts, int(list.count))
				for i, r := range copyMessages(&plain) {
					records = append(records, &ShareRecord{Record: r, DeliveryCount: int16(counts[i])})
				}
				C.odradek_share_message_list_free(list)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if len(records) > 0 {
			return records, nil
		}
	}
}

// Acknowledge settles a record this consumer handed out; the acknowledgement is sent with the
// next Poll or CommitSync. A record acknowledged already is an error.
func (c *ShareConsumer) Acknowledge(r *ShareRecord, kind AcknowledgeType) error {
	return c.call(func(h *C.OdradekShareConsumer) error {
		topic := C.CString(r.Topic)
		defer C.free(unsafe.Pointer(topic))
		return takeError(C.odradek_share_consumer_acknowledge(h, topic, C.int32_t(r.Partition), C.int64_t(r.Offset), C.int32_t(kind)))
	})
}

// CommitSync sends the pending acknowledgements now and waits for the brokers' answers (until
// ctx ends); the first partition's error is returned.
func (c *ShareConsumer) CommitSync(ctx context.Context) error {
	return c.call(func(h *C.OdradekShareConsumer) error {
		s := newCancelScope(ctx)
		return s.finish(ctx, takeError(C.odradek_share_consumer_commit_sync(h, s.timeout, s.token)))
	})
}

// CommitAsync sends the pending acknowledgements in the background (a failure is logged).
func (c *ShareConsumer) CommitAsync() error {
	return c.call(func(h *C.OdradekShareConsumer) error {
		return takeError(C.odradek_share_consumer_commit_async(h))
	})
}

// Close leaves the share group: explicit acknowledgements are sent, records handed out and not
// acknowledged are released, and the consumer is freed. Polls still waiting return ErrClosed.
// Idempotent.
func (c *ShareConsumer) Close() error {
	c.mu.RLock()
	h := c.handle
	var err error
	if h != nil {
		err = takeError(C.odradek_share_consumer_close(h, -1))
	}
	c.mu.RUnlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.handle != nil {
		C.odradek_share_consumer_free(c.handle)
		c.handle = nil
		liveHandles.Add(-1)
	}
	return err
}
