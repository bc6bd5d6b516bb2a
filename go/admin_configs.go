package odradek

/*
#include <stdlib.h>
#include <stdint.h>
#include "odradek.h"
*/
import "C"

import (
	"context"
	"strconv"
	"unsafe"
)

// ConfigEntry is one config of a topic or broker as the broker describes it.
type ConfigEntry struct {
	Name string
	// Value is nil when the config is sensitive (Sensitive) or unset.
	Value     *string
	ReadOnly  bool
	Default   bool // the value is the default, not set on this resource
	Sensitive bool
}

// AlterConfig changes one config: Value sets it; a nil Value reverts it to its default.
type AlterConfig struct {
	Name  string
	Value *string
}

// SetConfig is the AlterConfig that sets name to value.
func SetConfig(name, value string) AlterConfig { return AlterConfig{Name: name, Value: &value} }

// DeleteConfig is the AlterConfig that reverts name to its default.
func DeleteConfig(name string) AlterConfig { return AlterConfig{Name: name} }

// DescribeTopicConfigs returns the configs of topic: all of them, or only keys.
func (a *Admin) DescribeTopicConfigs(ctx context.Context, topic string, keys ...string) ([]ConfigEntry, error) {
	return a.describeConfigs(ctx, C.ODRADEK_CONFIG_RESOURCE_TOPIC, topic, keys)
}

// DescribeBrokerConfigs returns the configs of the broker with node id broker.
func (a *Admin) DescribeBrokerConfigs(ctx context.Context, broker int32, keys ...string) ([]ConfigEntry, error) {
	return a.describeConfigs(ctx, C.ODRADEK_CONFIG_RESOURCE_BROKER, strconv.Itoa(int(broker)), keys)
}

// AlterTopicConfigs changes configs of topic, leaving the others as they are (incremental).
func (a *Admin) AlterTopicConfigs(ctx context.Context, topic string, changes ...AlterConfig) error {
	return a.alterConfigs(ctx, C.ODRADEK_CONFIG_RESOURCE_TOPIC, topic, changes)
}

// AlterBrokerConfigs changes configs of the broker with node id broker (incremental).
func (a *Admin) AlterBrokerConfigs(ctx context.Context, broker int32, changes ...AlterConfig) error {
	return a.alterConfigs(ctx, C.ODRADEK_CONFIG_RESOURCE_BROKER, strconv.Itoa(int(broker)), changes)
}

func (a *Admin) describeConfigs(ctx context.Context, kind C.int8_t, name string, keys []string) ([]ConfigEntry, error) {
	var out []ConfigEntry
	err := a.call(func(h *C.OdradekAdmin) error {
		cn := C.CString(name)
		defer C.free(unsafe.Pointer(cn))
		ck := newCStrings(keys)
		defer ck.free()
		var arr *C.OdradekConfigDescription
		var n C.size_t
		s := newCancelScope(ctx)
		if err := s.finish(ctx, takeError(C.odradek_admin_describe_configs(h, kind, cn, ck.arr, C.size_t(len(keys)), s.timeout, s.token, &arr, &n))); err != nil {
			return err
		}
		defer C.odradek_config_descriptions_free(arr, n)
		for _, e := range unsafe.Slice(arr, int(n)) {
			out = append(out, ConfigEntry{Name: C.GoString(e.name), Value: goOptString(e.value),
				ReadOnly: bool(e.read_only), Default: bool(e.is_default), Sensitive: bool(e.is_sensitive)})
		}
		return nil
	})
	return out, err
}

func (a *Admin) alterConfigs(ctx context.Context, kind C.int8_t, name string, changes []AlterConfig) error {
	return a.call(func(h *C.OdradekAdmin) error {
		cn := C.CString(name)
		defer C.free(unsafe.Pointer(cn))
		entries := (*C.OdradekConfigEntry)(C.malloc(C.size_t(unsafe.Sizeof(C.OdradekConfigEntry{})) * C.size_t(max(len(changes), 1))))
		defer C.free(unsafe.Pointer(entries))
		arr := unsafe.Slice(entries, len(changes))
		var strs []*C.char
		defer func() {
			for _, s := range strs {
				C.free(unsafe.Pointer(s))
			}
		}()
		for i, c := range changes {
			arr[i] = C.OdradekConfigEntry{key: C.CString(c.Name)}
			strs = append(strs, arr[i].key)
			if c.Value != nil {
				arr[i].value = C.CString(*c.Value)
				strs = append(strs, arr[i].value)
			}
		}
		s := newCancelScope(ctx)
		return s.finish(ctx, takeError(C.odradek_admin_alter_configs(h, kind, cn, entries, C.size_t(len(changes)), s.timeout, s.token)))
	})
}

// goOptString copies a C string that may be NULL.
func goOptString(s *C.char) *string {
	if s == nil {
		return nil
	}
	v := C.GoString(s)
	return &v
}
