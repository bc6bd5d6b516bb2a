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

// ListedGroup is a group as the brokers list it.
type ListedGroup struct {
	Group        string
	ProtocolType string // "consumer"; empty for a group with committed offsets only
	State        string // Stable, PreparingRebalance, Empty, Dead, ...
	Type         string // "classic" or "consumer" (KIP-848)
}

// DescribedGroupMember is a member of a described group.
type DescribedGroupMember struct {
	MemberID   string
	InstanceID *string // group.instance.id of a static member, else nil
	ClientID   string
	ClientHost string
	Epoch      int32 // KIP-848 member epoch; -1 for classic members
	Assigned   []TopicPartition
}

// DescribedGroup is a described group; a group that does not exist has State "Dead".
type DescribedGroup struct {
	Group    string
	Type     string // "classic" or "consumer"
	State    string
	Assignor string // classic: the chosen protocol; consumer: the server-side assignor
	Epoch    int32
	Members  []DescribedGroupMember
}

// GroupMemberLag is the lag of a group on one partition.
type GroupMemberLag struct {
	Topic     string
	Partition int32
	Committed int64 // OffsetInvalid when nothing is committed
	End       int64 // the last stable offset: what a read_committed consumer can reach
	Lag       int64
}

// ListGroups lists every group of every broker, sorted by name.
func (a *Admin) ListGroups(ctx context.Context) ([]ListedGroup, error) {
	var out []ListedGroup
	err := a.call(func(h *C.OdradekAdmin) error {
		var arr *C.OdradekGroupListing
		var n C.size_t
		s := newCancelScope(ctx)
		if err := s.finish(ctx, takeError(C.odradek_admin_list_groups(h, s.timeout, s.token, &arr, &n))); err != nil {
			return err
		}
		defer C.odradek_group_listings_free(arr, n)
		for _, g := range unsafe.Slice(arr, int(n)) {
			out = append(out, ListedGroup{Group: C.GoString(g.group_id), ProtocolType: C.GoString(g.protocol_type),
				State: C.GoString(g.state), Type: C.GoString(g.group_type)})
		}
		return nil
	})
	return out, err
}

// DescribeGroups describes groups, in the order given.
func (a *Admin) DescribeGroups(ctx context.Context, groups ...string) ([]DescribedGroup, error) {
	var out []DescribedGroup
	err := a.call(func(h *C.OdradekAdmin) error {
		cs := newCStrings(groups)
		defer cs.free()
		var arr *C.OdradekGroupDescription
		var n C.size_t
		s := newCancelScope(ctx)
		if err := s.finish(ctx, takeError(C.odradek_admin_describe_groups(h, cs.arr, C.size_t(len(groups)), s.timeout, s.token, &arr, &n))); err != nil {
			return err
		}
		defer C.odradek_group_descriptions_free(arr, n)
		for _, g := range unsafe.Slice(arr, int(n)) {
			d := DescribedGroup{Group: C.GoString(g.group_id), Type: C.GoString(g.group_type), State: C.GoString(g.state),
				Assignor: C.GoString(g.assignor), Epoch: int32(g.epoch)}
			for _, m := range unsafe.Slice(g.members, int(g.member_count)) {
				d.Members = append(d.Members, DescribedGroupMember{MemberID: C.GoString(m.member_id),
					InstanceID: goOptString(m.instance_id), ClientID: C.GoString(m.client_id), ClientHost: C.GoString(m.host),
					Epoch: int32(m.member_epoch), Assigned: goPartitions(unsafe.Slice(m.assignment, int(m.assignment_count)))})
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// FetchOffsets returns every committed offset of group.
func (a *Admin) FetchOffsets(ctx context.Context, group string) ([]TopicPartition, error) {
	var out []TopicPartition
	err := a.call(func(h *C.OdradekAdmin) error {
		cg := C.CString(group)
		defer C.free(unsafe.Pointer(cg))
		var arr *C.OdradekTopicPartition
		var n C.size_t
		s := newCancelScope(ctx)
		if err := s.finish(ctx, takeError(C.odradek_admin_list_group_offsets(h, cg, s.timeout, s.token, &arr, &n))); err != nil {
			return err
		}
		defer C.odradek_topic_partitions_free(arr, n)
		out = goPartitions(unsafe.Slice(arr, int(n)))
		return nil
	})
	return out, err
}

// CommitOffsets sets committed offsets of group (each Offset the next one to read). The group
// must have no members.
func (a *Admin) CommitOffsets(ctx context.Context, group string, offsets []TopicPartition) error {
	return a.groupPartitions(ctx, group, offsets, func(h *C.OdradekAdmin, g *C.char, p *C.OdradekTopicPartition, n C.size_t, t C.int32_t, c *C.OdradekCancel) *C.OdradekError {
		return C.odradek_admin_alter_group_offsets(h, g, p, n, t, c)
	})
}

// DeleteOffsets deletes committed offsets of group for these partitions (Offset ignored);
// refused for topics the group is consuming.
func (a *Admin) DeleteOffsets(ctx context.Context, group string, partitions []TopicPartition) error {
	return a.groupPartitions(ctx, group, partitions, func(h *C.OdradekAdmin, g *C.char, p *C.OdradekTopicPartition, n C.size_t, t C.int32_t, c *C.OdradekCancel) *C.OdradekError {
		return C.odradek_admin_delete_group_offsets(h, g, p, n, t, c)
	})
}

type groupPartitionsCall func(*C.OdradekAdmin, *C.char, *C.OdradekTopicPartition, C.size_t, C.int32_t, *C.OdradekCancel) *C.OdradekError

func (a *Admin) groupPartitions(ctx context.Context, group string, ps []TopicPartition, f groupPartitionsCall) error {
	return a.call(func(h *C.OdradekAdmin) error {
		cg := C.CString(group)
		defer C.free(unsafe.Pointer(cg))
		cp := newCPartitions(ps)
		defer cp.free()
		s := newCancelScope(ctx)
		return s.finish(ctx, takeError(f(h, cg, cp.arr, C.size_t(cp.n), s.timeout, s.token)))
	})
}

// DeleteGroups deletes groups (each must have no members); it fails with the first group's
// error.
func (a *Admin) DeleteGroups(ctx context.Context, groups ...string) error {
	return a.call(func(h *C.OdradekAdmin) error {
		cs := newCStrings(groups)
		defer cs.free()
		s := newCancelScope(ctx)
		return s.finish(ctx, takeError(C.odradek_admin_delete_groups(h, cs.arr, C.size_t(len(groups)), s.timeout, s.token)))
	})
}

// Lag returns the lag of group on every partition it has committed offsets for, plus every
// partition of topics.
func (a *Admin) Lag(ctx context.Context, group string, topics ...string) ([]GroupMemberLag, error) {
	var out []GroupMemberLag
	err := a.call(func(h *C.OdradekAdmin) error {
		cg := C.CString(group)
		defer C.free(unsafe.Pointer(cg))
		cs := newCStrings(topics)
		defer cs.free()
		var arr *C.OdradekPartitionLag
		var n C.size_t
		s := newCancelScope(ctx)
		if err := s.finish(ctx, takeError(C.odradek_admin_group_lag(h, cg, cs.arr, C.size_t(len(topics)), s.timeout, s.token, &arr, &n))); err != nil {
			return err
		}
		defer C.odradek_partition_lags_free(arr, n)
		for _, l := range unsafe.Slice(arr, int(n)) {
			out = append(out, GroupMemberLag{Topic: C.GoString(l.topic), Partition: int32(l.partition),
				Committed: int64(l.committed), End: int64(l.log_end), Lag: int64(l.lag)})
		}
		return nil
	})
	return out, err
}
