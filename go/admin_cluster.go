package odradek

/*
#include <stdlib.h>
#include <stdint.h>
#include "odradek.h"
*/
import "C"

import (
	"context"
	"unsafe"
)

// BrokerDetail is one broker of a described cluster.
type BrokerDetail struct {
	NodeID int32
	Host   string
	Port   int32
	Rack   *string // nil when broker.rack is not set
}

// ClusterDescription is the cluster as DescribeCluster reports it.
type ClusterDescription struct {
	ClusterID  string
	Controller int32 // -1 when not known
	Brokers    []BrokerDetail
}

// DescribeCluster returns the cluster id, the controller and the brokers.
func (a *Admin) DescribeCluster(ctx context.Context) (ClusterDescription, error) {
	var out ClusterDescription
	err := a.call(func(h *C.OdradekAdmin) error {
		var d *C.OdradekClusterDescription
		s := newCancelScope(ctx)
		if err := s.finish(ctx, takeError(C.odradek_admin_describe_cluster(h, s.timeout, s.token, &d))); err != nil {
			return err
		}
		defer C.odradek_cluster_description_free(d)
		out.ClusterID, out.Controller = C.GoString(d.cluster_id), int32(d.controller_id)
		for _, b := range unsafe.Slice(d.brokers, int(d.broker_count)) {
			out.Brokers = append(out.Brokers, BrokerDetail{NodeID: int32(b.id), Host: C.GoString(b.host),
				Port: int32(b.port), Rack: goOptString(b.rack)})
		}
		return nil
	})
	return out, err
}

// DeleteRecords deletes the records before each partition's Offset (OffsetEnd: all of them)
// and returns each partition's new low watermark in Offset.
func (a *Admin) DeleteRecords(ctx context.Context, before []TopicPartition) ([]TopicPartition, error) {
	var out []TopicPartition
	err := a.call(func(h *C.OdradekAdmin) error {
		cp := newCPartitions(before)
		defer cp.free()
		s := newCancelScope(ctx)
		if err := s.finish(ctx, takeError(C.odradek_admin_delete_records(h, cp.arr, C.size_t(cp.n), s.timeout, s.token))); err != nil {
			return err
		}
		out = goPartitions(cp.slice())
		return nil
	})
	return out, err
}

// goPartitions copies C partitions (topics borrowed from C) into Go values.
func goPartitions(ps []C.OdradekTopicPartition) []TopicPartition {
	out := make([]TopicPartition, 0, len(ps))
	for _, p := range ps {
		out = append(out, TopicPartition{Topic: C.GoString(p.topic), Partition: int32(p.partition), Offset: int64(p.offset)})
	}
	return out
}
