// Package odradek is the Go binding of the odradek Kafka client: a producer, a consumer
// (manual assignment or consumer groups), an admin client and an in-process test broker, over
// the C ABI of bindings/c (libodradek_ffi, linked statically through cgo).
//
// Where the header and the library come from is in link_checkout.go (this repository: build
// the library with cargo) or, in the released module, in the link_*.go files the release writes
// (a prebuilt static library per GOOS/GOARCH inside the module; see RELEASING.md).
package odradek

/*
#include <stdlib.h>
#include <stdint.h>
#include "odradek.h"

*/
import "C"

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"time"
	"unsafe"
)

// liveHandles counts native handles not yet freed (tests check it returns to zero).
var liveHandles atomic.Int64

// LiveHandles reports how many native handles (producers, consumers, admins, test brokers)
// are open; it returns to its earlier value once they are closed.
func LiveHandles() int64 { return liveHandles.Load() }

// Version is the native library's version.
func Version() string { return C.GoString(C.odradek_version()) }

// takeError converts an owned C error (NULL: nil) into a Go *Error and frees it.
func takeError(e *C.OdradekError) error {
	if e == nil {
		return nil
	}
	defer C.odradek_error_free(e)
	return convertError(e)
}

// convertError copies a borrowed C error.
func convertError(e *C.OdradekError) *Error {
	return &Error{
		Code:      int32(e.code),
		Name:      C.GoString(e.name),
		Message:   C.GoString(e.message),
		Class:     ErrorClass(e.error_class),
		Retriable: bool(e.retriable),
		Topic:     C.GoString(e.topic), // NULL (not known) gives ""
		Partition: int32(e.partition),
		Broker:    C.GoString(e.broker),
	}
}

// cConfig is a C array of config entries in C memory, freed by free().
type cConfig struct {
	entries *C.OdradekConfigEntry
	n       C.size_t
	strs    []*C.char
}

func newCConfig(cfg map[string]string) *cConfig {
	c := &cConfig{n: C.size_t(len(cfg))}
	if len(cfg) == 0 {
		return c
	}
	size := C.size_t(unsafe.Sizeof(C.OdradekConfigEntry{})) * c.n
	c.entries = (*C.OdradekConfigEntry)(C.malloc(size))
	entries := unsafe.Slice(c.entries, len(cfg))
	i := 0
	for k, v := range cfg {
		ck, cv := C.CString(k), C.CString(v)
		c.strs = append(c.strs, ck, cv)
		entries[i] = C.OdradekConfigEntry{key: ck, value: cv}
		i++
	}
	return c
}

func (c *cConfig) free() {
	for _, s := range c.strs {
		C.free(unsafe.Pointer(s))
	}
	if c.entries != nil {
		C.free(unsafe.Pointer(c.entries))
	}
}

// cancelScope turns a context into a native timeout and cancel token for one blocking call.
type cancelScope struct {
	token   *C.OdradekCancel
	stop    func() bool
	fired   chan struct{}
	timeout C.int32_t
}

func newCancelScope(ctx context.Context) *cancelScope {
	s := &cancelScope{timeout: -1}
	if d, ok := ctx.Deadline(); ok {
		ms := time.Until(d).Milliseconds()
		if ms < 0 {
			ms = 0
		}
		if ms > math.MaxInt32 {
			ms = math.MaxInt32
		}
		s.timeout = C.int32_t(ms)
	}
	if ctx.Done() != nil {
		s.token = C.odradek_cancel_new()
		token, fired := s.token, make(chan struct{})
		s.fired = fired
		s.stop = context.AfterFunc(ctx, func() {
			C.odradek_cancel_trigger(token)
			close(fired)
		})
	}
	return s
}

// finish releases the token (after the call returned) and maps a cancellation or a deadline
// to the context's error.
func (s *cancelScope) finish(ctx context.Context, err error) error {
	if s.stop != nil {
		if !s.stop() {
			<-s.fired // the trigger ran or is running: the token must outlive it
		}
		C.odradek_cancel_free(s.token)
	}
	var oe *Error
	if err != nil && errors.As(err, &oe) && ctx.Err() != nil &&
		(oe.Code == errIntr || oe.Code == codeTimedOut) {
		return ctx.Err()
	}
	return err
}
