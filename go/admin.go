package odradek

/*
#include <stdlib.h>
#include <stdint.h>
#include "odradek.h"
extern OdradekError *odradek_go_admin_new(const OdradekConfigEntry *c, size_t n, uintptr_t token,
		OdradekAdmin **out);
*/
import "C"

import (
	"context"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// TopicSpec describes a topic to create.
type TopicSpec struct {
	Name              string
	Partitions        int32 // -1: the broker's num.partitions
	ReplicationFactor int16 // 0 or -1: the broker's default
	Config            map[string]string
}

// Admin manages topics. Safe for concurrent use; Close it when done.
type Admin struct {
	mu     sync.RWMutex
	handle *C.OdradekAdmin
	token  cgo.Handle // the TokenProvider, if any
}

// NewAdmin creates an admin client from librdkafka / Java property names. Options:
// WithTokenProvider.
func NewAdmin(config map[string]string, opts ...Option) (*Admin, error) {
	cfg := newCConfig(config)
	defer cfg.free()
	token := tokenHandle(opts)
	var h *C.OdradekAdmin
	if err := takeError(C.odradek_go_admin_new(cfg.entries, cfg.n, C.uintptr_t(token), &h)); err != nil {
		deleteHandle(&token)
		return nil, err
	}
	liveHandles.Add(1)
	return &Admin{handle: h, token: token}, nil
}

func (a *Admin) call(f func(h *C.OdradekAdmin) error) error {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.handle == nil {
		return ErrClosed
	}
	return f(a.handle)
}

// CreateTopics creates topics; it fails with the first topic's error (errors.Is(err,
// ErrTopicAlreadyExists), ...). The topics are usable when it returns.
func (a *Admin) CreateTopics(ctx context.Context, topics ...TopicSpec) error {
	return a.call(func(h *C.OdradekAdmin) error {
		specs := (*C.OdradekNewTopic)(C.malloc(C.size_t(unsafe.Sizeof(C.OdradekNewTopic{})) * C.size_t(max(len(topics), 1))))
		defer C.free(unsafe.Pointer(specs))
		arr := unsafe.Slice(specs, len(topics))
		var frees []func()
		defer func() {
			for _, f := range frees {
				f()
			}
		}()
		for i, t := range topics {
			name := C.CString(t.Name)
			cfg := newCConfig(t.Config)
			frees = append(frees, func() { C.free(unsafe.Pointer(name)) }, cfg.free)
			rf := t.ReplicationFactor
			if rf == 0 {
				rf = -1
			}
			arr[i] = C.OdradekNewTopic{name: name, partitions: C.int32_t(t.Partitions), replication_factor: C.int16_t(rf), config: cfg.entries, config_len: cfg.n}
		}
		s := newCancelScope(ctx)
		return s.finish(ctx, takeError(C.odradek_admin_create_topics(h, specs, C.size_t(len(topics)), s.timeout, s.token)))
	})
}

// DeleteTopics deletes topics; it fails with the first topic's error.
func (a *Admin) DeleteTopics(ctx context.Context, topics ...string) error {
	return a.call(func(h *C.OdradekAdmin) error {
		cs := newCStrings(topics)
		defer cs.free()
		s := newCancelScope(ctx)
		return s.finish(ctx, takeError(C.odradek_admin_delete_topics(h, (**C.char)(unsafe.Pointer(cs.arr)), C.size_t(len(topics)), s.timeout, s.token)))
	})
}

// CreatePartitions grows a topic to total partitions.
func (a *Admin) CreatePartitions(ctx context.Context, topic string, total int32) error {
	return a.call(func(h *C.OdradekAdmin) error {
		ct := C.CString(topic)
		defer C.free(unsafe.Pointer(ct))
		s := newCancelScope(ctx)
		return s.finish(ctx, takeError(C.odradek_admin_create_partitions(h, ct, C.int32_t(total), s.timeout, s.token)))
	})
}

// ListTopics returns every non-internal topic with its number of partitions.
func (a *Admin) ListTopics(ctx context.Context) (map[string]int32, error) {
	out := map[string]int32{}
	err := a.call(func(h *C.OdradekAdmin) error {
		var arr *C.OdradekTopicInfo
		var n C.size_t
		s := newCancelScope(ctx)
		if err := s.finish(ctx, takeError(C.odradek_admin_list_topics(h, s.timeout, s.token, &arr, &n))); err != nil {
			return err
		}
		defer C.odradek_topic_infos_free(arr, n)
		for _, t := range unsafe.Slice(arr, int(n)) {
			out[C.GoString(t.name)] = int32(t.partitions)
		}
		return nil
	})
	return out, err
}

// Close frees the admin client. Idempotent.
func (a *Admin) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.handle != nil {
		C.odradek_admin_free(a.handle)
		a.handle = nil
		liveHandles.Add(-1)
		deleteHandle(&a.token)
	}
	return nil
}
