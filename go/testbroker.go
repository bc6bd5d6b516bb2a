package odradek

/*
#include <stdlib.h>
#include "odradek.h"
*/
import "C"

import (
	"sync"
	"unsafe"
)

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
	caPEM     string
	// The SCRAM user of a SASL_SSL broker (empty for a plaintext one).
	username, password string
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

// StartSaslSslTestBroker starts a broker whose one listener is SASL_SSL: TLS with a certificate
// for 127.0.0.1 / localhost signed by a CA made now (CAPEM), SCRAM-SHA-256 and SCRAM-SHA-512
// with the user username / password. properties are added ("sasl.enabled.mechanisms" with
// OAUTHBEARER also accepts unsecured JWTs). ClientConfig has everything a client needs.
func StartSaslSslTestBroker(username, password string, properties map[string]string) (*TestBroker, error) {
	cfg := newCConfig(properties)
	defer cfg.free()
	cu, cp := C.CString(username), C.CString(password)
	defer C.free(unsafe.Pointer(cu))
	defer C.free(unsafe.Pointer(cp))
	var h *C.OdradekTestBroker
	if err := takeError(C.odradek_test_broker_start_sasl_ssl(cu, cp, cfg.entries, cfg.n, &h)); err != nil {
		return nil, err
	}
	liveHandles.Add(1)
	return &TestBroker{
		handle:    h,
		bootstrap: C.GoString(C.odradek_test_broker_bootstrap(h)),
		caPEM:     C.GoString(C.odradek_test_broker_ca_pem(h)),
		username:  username,
		password:  password,
	}, nil
}

// CAPEM is the CA certificate (PEM) a client must trust ("ssl.ca.pem"); empty for a plaintext
// broker.
func (b *TestBroker) CAPEM() string { return b.caPEM }

// ClientConfig is a client config for this broker: "bootstrap.servers" and, for a SASL_SSL
// broker, "security.protocol", "sasl.mechanism" (SCRAM-SHA-512), the user and password and
// "ssl.ca.pem".
func (b *TestBroker) ClientConfig() map[string]string {
	cfg := map[string]string{"bootstrap.servers": b.bootstrap}
	if b.caPEM != "" {
		cfg["security.protocol"] = "SASL_SSL"
		cfg["sasl.mechanism"] = "SCRAM-SHA-512"
		cfg["sasl.username"] = b.username
		cfg["sasl.password"] = b.password
		cfg["ssl.ca.pem"] = b.caPEM
	}
	return cfg
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
