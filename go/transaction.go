package odradek

/*
#include "odradek.h"
*/
import "C"

import (
	"context"
	"runtime"
)

// ConsumerGroupMetadata is a consumer's group, generation and member id at the time
// Consumer.GetConsumerGroupMetadata was called: what Producer.SendOffsetsToTransaction needs so
// that the offsets of a member that left the group are refused (KIP-447).
type ConsumerGroupMetadata struct {
	handle *C.OdradekGroupMetadata
}

// GetConsumerGroupMetadata returns the consumer's group metadata (needs "group.id").
func (c *Consumer) GetConsumerGroupMetadata() (*ConsumerGroupMetadata, error) {
	var m *ConsumerGroupMetadata
	err := c.call(func(h *C.OdradekConsumer) error {
		var out *C.OdradekGroupMetadata
		if err := takeError(C.odradek_consumer_group_metadata(h, &out)); err != nil {
			return err
		}
		m = &ConsumerGroupMetadata{handle: out}
		// A small value users pass around and drop: the native copy goes with it.
		runtime.SetFinalizer(m, func(m *ConsumerGroupMetadata) { C.odradek_group_metadata_free(m.handle) })
		return nil
	})
	return m, err
}

// producerCall runs f with the native handle held, or fails with ErrClosed.
func (p *Producer) producerCall(f func(h *C.OdradekProducer) error) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.handle == nil {
		return ErrClosed
	}
	return f(p.handle)
}

// InitTransactions registers "transactional.id" with its coordinator: an earlier producer with
// the same id is fenced and its open transaction aborted. Call once, before the first
// transaction.
func (p *Producer) InitTransactions(ctx context.Context) error {
	return p.producerCall(func(h *C.OdradekProducer) error {
		s := newCancelScope(ctx)
		return s.finish(ctx, takeError(C.odradek_producer_init_transactions(h, s.timeout, s.token)))
	})
}

// BeginTransaction opens a transaction: records produced until CommitTransaction or
// AbortTransaction belong to it.
func (p *Producer) BeginTransaction() error {
	return p.producerCall(func(h *C.OdradekProducer) error {
		return takeError(C.odradek_producer_begin_transaction(h))
	})
}

// SendOffsetsToTransaction adds the consumer's offsets (each the next offset to read) to the
// open transaction: they are committed for the consumer's group if, and only if, the
// transaction commits.
func (p *Producer) SendOffsetsToTransaction(ctx context.Context, offsets []TopicPartition, metadata *ConsumerGroupMetadata) error {
	var mh *C.OdradekGroupMetadata // nil: the library refuses it (_INVALID_ARG)
	if metadata != nil {
		mh = metadata.handle
	}
	err := p.producerCall(func(h *C.OdradekProducer) error {
		cp := newCPartitions(offsets)
		defer cp.free()
		s := newCancelScope(ctx)
		return s.finish(ctx, takeError(C.odradek_producer_send_offsets_to_transaction(
			h, cp.arr, C.size_t(cp.n), mh, s.timeout, s.token)))
	})
	runtime.KeepAlive(metadata)
	return err
}

// CommitTransaction delivers every record of the transaction, then commits it. An error with
// TxnRequiresAbort (a record failed) leaves the transaction to AbortTransaction; a fatal one
// (errors.Is(err, ErrProducerFenced)) ends the producer.
func (p *Producer) CommitTransaction(ctx context.Context) error {
	return p.producerCall(func(h *C.OdradekProducer) error {
		s := newCancelScope(ctx)
		return s.finish(ctx, takeError(C.odradek_producer_commit_transaction(h, s.timeout, s.token)))
	})
}

// AbortTransaction aborts the open transaction: read_committed consumers never see what it
// wrote, and its offsets are not committed.
func (p *Producer) AbortTransaction(ctx context.Context) error {
	return p.producerCall(func(h *C.OdradekProducer) error {
		s := newCancelScope(ctx)
		return s.finish(ctx, takeError(C.odradek_producer_abort_transaction(h, s.timeout, s.token)))
	})
}
