package odradek

/*
#include <stdint.h>
#include "odradek.h"
extern OdradekError *odradek_go_producer_on_error(const OdradekProducer *p, uintptr_t ctx);
extern OdradekError *odradek_go_consumer_on_error(const OdradekConsumer *c, uintptr_t ctx);
*/
import "C"

import (
	"encoding/json"
	"runtime/cgo"
	"sync"
)

// ErrorHandler receives a client's background failures, the ones no call returns: a broker
// unreachable or its connection lost (ErrTransport), every broker down ("_ALL_BROKERS_DOWN"),
// a TLS or SASL failure, the producer fenced, the group refusing the member. The error's
// Retriable / IsFatal say whether the client recovers by itself or is done. It runs on the
// library's event thread (one per process), one error at a time: keep it short.
type ErrorHandler func(*Error)

// errorSlot is a client's ErrorHandler behind the cgo.Handle the library calls it through.
type errorSlot struct {
	mu     sync.Mutex
	handle cgo.Handle
}

// set registers handler (nil: none) with install, which hands the native client the handle
// (0: clear). The library clears its previous callback first and waits for a running call,
// so the old handle can be deleted as soon as install returns.
func (s *errorSlot) set(handler ErrorHandler, install func(ctx C.uintptr_t) *C.OdradekError) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var h cgo.Handle
	if handler != nil {
		h = cgo.NewHandle(handler)
	}
	if err := takeError(install(C.uintptr_t(h))); err != nil {
		deleteHandle(&h)
		return err
	}
	deleteHandle(&s.handle)
	s.handle = h
	return nil
}

//export odradekGoErrorEvent
func odradekGoErrorEvent(ctx C.uintptr_t, e *C.OdradekError) {
	cgo.Handle(ctx).Value().(ErrorHandler)(convertError(e))
}

// OnError sends the producer's background failures to handler, replacing the one set before;
// nil stops them. Once OnError(nil) or Close returns, the previous handler never runs again
// (so OnError waits for a running call: do not call it from the handler itself).
func (p *Producer) OnError(handler ErrorHandler) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.handle == nil {
		return ErrClosed
	}
	return p.errors.set(handler, producerErrors(p.handle))
}

func producerErrors(h *C.OdradekProducer) func(C.uintptr_t) *C.OdradekError {
	return func(ctx C.uintptr_t) *C.OdradekError { return C.odradek_go_producer_on_error(h, ctx) }
}

func consumerErrors(h *C.OdradekConsumer) func(C.uintptr_t) *C.OdradekError {
	return func(ctx C.uintptr_t) *C.OdradekError { return C.odradek_go_consumer_on_error(h, ctx) }
}

// OnError sends the consumer's background failures to handler (as Producer.OnError).
func (c *Consumer) OnError(handler ErrorHandler) error {
	return c.call(func(h *C.OdradekConsumer) error {
		return c.errors.set(handler, consumerErrors(h))
	})
}

// BrokerStats is one broker as a client sees it.
type BrokerStats struct {
	Address string `json:"address"` // host:port
	// State: "up", "connecting", "backing_off" (the last connect failed) or "idle".
	State               string `json:"state"`
	Connects            uint64 `json:"connects"`               // connections opened
	ConnectFailures     uint64 `json:"connect_failures"`       // connects that failed
	Disconnects         uint64 `json:"disconnects"`            // connections lost after they were up
	Requests            uint64 `json:"requests"`               // requests answered
	RequestLatencyAvgUs uint64 `json:"request_latency_avg_us"` // mean round trip, µs
	RequestLatencyMaxUs uint64 `json:"request_latency_max_us"` // longest round trip, µs
	InFlight            uint64 `json:"in_flight"`              // requests waiting for their response
}

// ProducerMetrics is a producer's statistics snapshot (Producer.Metrics).
type ProducerMetrics struct {
	RecordsDelivered    uint64        `json:"records_delivered"`
	RecordsFailed       uint64        `json:"records_failed"`
	BytesDelivered      uint64        `json:"bytes_delivered"` // uncompressed record bytes
	Requests            uint64        `json:"requests"`        // Produce requests completed
	Retries             uint64        `json:"retries"`         // batch retries
	RequestLatencyAvgUs uint64        `json:"request_latency_avg_us"`
	RequestLatencyMaxUs uint64        `json:"request_latency_max_us"`
	QueueRecords        uint64        `json:"queue_records"` // waiting in the buffer, in flight included
	QueueBytes          uint64        `json:"queue_bytes"`
	Brokers             []BrokerStats `json:"brokers"` // sorted by address
}

// PartitionStats is one assigned partition of a consumer.
type PartitionStats struct {
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	Position      int64  `json:"position"`       // next offset handed out; -1: not known yet
	HighWatermark int64  `json:"high_watermark"` // of the last fetch; -1: not fetched yet
	Lag           int64  `json:"lag"`            // HighWatermark - Position, -1 when either is unknown
	Paused        bool   `json:"paused"`
}

// ConsumerMetrics is a consumer's statistics snapshot (Consumer.Metrics).
type ConsumerMetrics struct {
	RecordsConsumed   uint64           `json:"records_consumed"` // handed to the application
	BytesConsumed     uint64           `json:"bytes_consumed"`   // their key and value bytes
	FetchRequests     uint64           `json:"fetch_requests"`
	FetchLatencyAvgUs uint64           `json:"fetch_latency_avg_us"`
	FetchLatencyMaxUs uint64           `json:"fetch_latency_max_us"`
	BufferedBytes     uint64           `json:"buffered_bytes"` // fetched, not handed out yet
	Partitions        []PartitionStats `json:"partitions"`     // sorted
	Brokers           []BrokerStats    `json:"brokers"`        // sorted by address
}

// decodeMetrics decodes the JSON text a native *_metrics_json call writes, and frees it.
func decodeMetrics(get func(out **C.char) *C.OdradekError, into any) error {
	var text *C.char
	if err := takeError(get(&text)); err != nil {
		return err
	}
	defer C.odradek_string_free(text)
	return json.Unmarshal([]byte(C.GoString(text)), into)
}

// Metrics is the producer's statistics snapshot: records delivered and failed, requests,
// retries, latency, the buffer, and a row per broker.
func (p *Producer) Metrics() (ProducerMetrics, error) {
	var m ProducerMetrics
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.handle == nil {
		return m, ErrClosed
	}
	err := decodeMetrics(func(out **C.char) *C.OdradekError {
		return C.odradek_producer_metrics_json(p.handle, out)
	}, &m)
	return m, err
}

// Metrics is the consumer's statistics snapshot: records and bytes handed out, Fetch round
// trips, buffered bytes, each assigned partition's position, high watermark and lag, and a
// row per broker.
func (c *Consumer) Metrics() (ConsumerMetrics, error) {
	var m ConsumerMetrics
	err := c.call(func(h *C.OdradekConsumer) error {
		return decodeMetrics(func(out **C.char) *C.OdradekError {
			return C.odradek_consumer_metrics_json(h, out)
		}, &m)
	})
	return m, err
}
