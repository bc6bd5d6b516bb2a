package odradek

/*
#include <stdlib.h>
#include <string.h>
#include "odradek.h"
extern OdradekError *odradek_go_send_batch(const OdradekProducer *p, const OdradekProduceRecord *records,
		size_t count, uintptr_t ctx);
extern OdradekError *odradek_go_producer_new(const OdradekConfigEntry *c, size_t n, uintptr_t token,
		OdradekProducer **out);
*/
import "C"

import (
	"context"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// Header is a record header; a nil Value is a null value (distinct from an empty one).
type Header struct {
	Key   string
	Value []byte
}

// Record is a Kafka record: what Produce sends and what a Consumer receives. A nil Key or
// Value is null (a nil Value is a tombstone); an empty non-nil slice is empty.
type Record struct {
	Topic string
	// Partition the record was read from or written to. On produce it is used only when
	// UsePartition is true; otherwise the partitioner chooses (murmur2 of the key, as Java).
	Partition    int32
	UsePartition bool
	Offset       int64
	Key          []byte
	Value        []byte
	Headers      []Header
	// Timestamp: on produce, zero means now.
	Timestamp time.Time
}

// DeliveryReport says where a record was written, or why not (Err).
type DeliveryReport struct {
	Record    *Record
	Partition int32
	Offset    int64
	Timestamp time.Time
	Err       error
}

// Producer sends records. Safe for concurrent use; Close it when done.
type Producer struct {
	mu     sync.RWMutex // held (read) by every native call; Close takes it to free the handle
	handle *C.OdradekProducer
	token  cgo.Handle // the TokenProvider, if any
	errors errorSlot  // the OnError handler, if any
}

// NewProducer creates a producer from librdkafka / Java property names
// ("bootstrap.servers", "linger.ms", "acks", ...). Unknown keys and bad values fail with
// ErrInvalidConfig naming the key. Options: WithTokenProvider.
func NewProducer(config map[string]string, opts ...Option) (*Producer, error) {
	cfg := newCConfig(config)
	defer cfg.free()
	token := tokenHandle(opts)
	var h *C.OdradekProducer
	if err := takeError(C.odradek_go_producer_new(cfg.entries, cfg.n, C.uintptr_t(token), &h)); err != nil {
		deleteHandle(&token)
		return nil, err
	}
	liveHandles.Add(1)
	return &Producer{handle: h, token: token}, nil
}

// pendingBatch is the Go side of one native send call, found again through a cgo.Handle.
type pendingBatch struct {
	records []*Record
	done    func([]DeliveryReport)
}

//export odradekGoDelivery
func odradekGoDelivery(ctx C.uintptr_t, reports *C.OdradekDeliveryReport, count C.size_t) {
	h := cgo.Handle(ctx)
	b := h.Value().(*pendingBatch)
	h.Delete()
	out := make([]DeliveryReport, int(count))
	for i, r := range unsafe.Slice(reports, int(count)) {
		out[i] = DeliveryReport{
			Record:    b.records[i],
			Partition: int32(r.partition),
			Offset:    int64(r.offset),
			Timestamp: time.UnixMilli(int64(r.timestamp)),
		}
		if r.error != nil {
			out[i].Err = convertError(r.error)
		}
	}
	b.done(out)
}

// marshalRecords copies records into one C allocation (structs, then bytes), freed by the
// caller right after the send call: the library copies what it keeps.
func marshalRecords(records []*Record) unsafe.Pointer {
	recSize := int(unsafe.Sizeof(C.OdradekProduceRecord{}))
	hdrSize := int(unsafe.Sizeof(C.OdradekHeader{}))
	nHeaders, nBytes := 0, 0
	for _, r := range records {
		nHeaders += len(r.Headers)
		nBytes += len(r.Topic) + 1 + len(r.Key) + len(r.Value)
		for _, h := range r.Headers {
			nBytes += len(h.Key) + len(h.Value)
		}
	}
	total := recSize*len(records) + hdrSize*nHeaders + nBytes + 1
	mem := C.malloc(C.size_t(total))
	base := unsafe.Slice((*byte)(mem), total)
	recs := unsafe.Slice((*C.OdradekProduceRecord)(mem), len(records))
	hdrs := unsafe.Slice((*C.OdradekHeader)(unsafe.Add(mem, recSize*len(records))), nHeaders)
	pos := recSize*len(records) + hdrSize*nHeaders
	put := func(b []byte) *C.uint8_t {
		p := (*C.uint8_t)(unsafe.Pointer(&base[pos]))
		pos += copy(base[pos:], b)
		return p
	}
	putBytes := func(b []byte) (*C.uint8_t, C.size_t) {
		if b == nil {
			return nil, 0
		}
		return put(b), C.size_t(len(b))
	}
	hi := 0
	for i, r := range records {
		topic := (*C.char)(unsafe.Pointer(put([]byte(r.Topic))))
		base[pos] = 0
		pos++
		partition := C.int32_t(-1)
		if r.UsePartition {
			partition = C.int32_t(r.Partition)
		}
		ts := C.int64_t(-1)
		if !r.Timestamp.IsZero() {
			ts = C.int64_t(r.Timestamp.UnixMilli())
		}
		key, keyLen := putBytes(r.Key)
		value, valueLen := putBytes(r.Value)
		var headers *C.OdradekHeader
		if len(r.Headers) > 0 {
			headers = &hdrs[hi]
		}
		for _, h := range r.Headers {
			name := put([]byte(h.Key))
			hv, hvLen := putBytes(h.Value)
			hdrs[hi] = C.OdradekHeader{name: (*C.char)(unsafe.Pointer(name)), name_len: C.size_t(len(h.Key)), value: hv, value_len: hvLen}
			hi++
		}
		recs[i] = C.OdradekProduceRecord{
			topic: topic, partition: partition,
			key: key, key_len: keyLen, value: value, value_len: valueLen,
			headers: headers, headers_len: C.size_t(len(r.Headers)), timestamp: ts,
		}
	}
	return mem
}

func (p *Producer) send(records []*Record, done func([]DeliveryReport)) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.handle == nil {
		return ErrClosed
	}
	mem := marshalRecords(records)
	defer C.free(mem)
	h := cgo.NewHandle(&pendingBatch{records: records, done: done})
	err := takeError(C.odradek_go_send_batch(p.handle, (*C.OdradekProduceRecord)(mem), C.size_t(len(records)), C.uintptr_t(h)))
	if err != nil {
		h.Delete()
	}
	return err
}

// Produce sends one record and waits for its delivery report. If ctx ends first it returns
// ctx.Err(); the record may still be delivered.
func (p *Producer) Produce(ctx context.Context, r *Record) (DeliveryReport, error) {
	ch := make(chan DeliveryReport, 1)
	if err := p.send([]*Record{r}, func(rs []DeliveryReport) { ch <- rs[0] }); err != nil {
		return DeliveryReport{Record: r, Partition: -1, Offset: -1, Err: err}, err
	}
	select {
	case rep := <-ch:
		return rep, rep.Err
	case <-ctx.Done():
		return DeliveryReport{Record: r, Partition: -1, Offset: -1, Err: ctx.Err()}, ctx.Err()
	}
}

// ProduceAsync sends one record; its report arrives on reports (give it a buffer: a full
// channel makes the report wait in a goroutine of its own). An error returned here means the
// record was not sent and no report will come.
func (p *Producer) ProduceAsync(r *Record, reports chan<- DeliveryReport) error {
	return p.send([]*Record{r}, func(rs []DeliveryReport) { deliver(reports, rs[0]) })
}

func deliver(ch chan<- DeliveryReport, r DeliveryReport) {
	select {
	case ch <- r:
	default:
		go func() { ch <- r }()
	}
}

// ProduceBatch sends records in order with one native call and waits for all their reports
// (in the same order). The error is the first record's failure, or ctx.Err().
func (p *Producer) ProduceBatch(ctx context.Context, records []*Record) ([]DeliveryReport, error) {
	if len(records) == 0 {
		return nil, nil
	}
	ch := make(chan []DeliveryReport, 1)
	if err := p.send(records, func(rs []DeliveryReport) { ch <- rs }); err != nil {
		return nil, err
	}
	select {
	case rs := <-ch:
		for _, r := range rs {
			if r.Err != nil {
				return rs, r.Err
			}
		}
		return rs, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ProduceBatchAsync sends records in order with one native call; done runs once with all
// their reports, on a library thread (keep it short).
func (p *Producer) ProduceBatchAsync(records []*Record, done func([]DeliveryReport)) error {
	if len(records) == 0 {
		done(nil)
		return nil
	}
	return p.send(records, done)
}

// Flush waits until every record sent so far is delivered or failed and reported.
func (p *Producer) Flush(ctx context.Context) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.handle == nil {
		return ErrClosed
	}
	s := newCancelScope(ctx)
	return s.finish(ctx, takeError(C.odradek_producer_flush(p.handle, s.timeout, s.token)))
}

// Close flushes (waiting for every report), then frees the producer. Idempotent.
func (p *Producer) Close() error {
	p.mu.RLock()
	h := p.handle
	var err error
	if h != nil {
		// Cleared before the write lock: a running handler may still call the producer.
		_ = p.errors.set(nil, producerErrors(h))
		err = takeError(C.odradek_producer_close(h, -1))
	}
	p.mu.RUnlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.handle != nil {
		C.odradek_producer_free(p.handle)
		p.handle = nil
		liveHandles.Add(-1)
		deleteHandle(&p.token)
	}
	return err
}
