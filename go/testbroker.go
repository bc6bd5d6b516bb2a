package odradek

/*
#include <stdlib.h>
#include "odradek.h"
*/
import "C"

import "sync"

// TestBroker is a Kafka-compatible broker running inside this process (127.0.0.1, an
// ephemeral port, a temporary data directory removed by Close), for tests of code that uses
// Kafka: no Docker, no JVM.
//
//	broker, err := odradek.StartTestBroker(nil)
//	defer broker.Close()
//	producer, err := odradek.NewProducer(map[string]string{"bootstrap.servers": broker.Bootstrap()})
type TestBroker struct {
	mu        sync.Mutex
	handle    *C.OdradekTestBroker
	bootstrap string
}

// StartTestBroker starts a broker with these Kafka broker properties ("num.partitions", ...).
func StartTestBroker(properties map[string]string) (*TestBroker, error) {
	cfg := newCConfig(properties)
	defer cfg.free()
	var h *C.OdradekTestBroker
	if err := takeError(C.odradek_test_broker_start(cfg.entries, cfg.n, &h)); err != nil {
		return nil, err
	}
	liveHandles.Add(1)
	return &TestBroker{handle: h, bootstrap: C.GoString(C.odradek_test_broker_bootstrap(h))}, nil
}

// Bootstrap is "host:port" for "bootstrap.servers".
func (b *TestBroker) Bootstrap() string { return b.bootstrap }

// Close stops the broker and removes its data. Idempotent.
func (b *TestBroker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.handle != nil {
		C.odradek_test_broker_stop(b.handle)
		b.handle = nil
		liveHandles.Add(-1)
	}
	return nil
}
