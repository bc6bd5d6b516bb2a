package odradek

/*
#include <stdlib.h>
#include "odradek.h"
*/
import "C"

import (
	"errors"
	"sync"
	"unsafe"
)

// TestCluster is an N-node cluster running inside this process (nodes 1..N on 127.0.0.1,
// each a controller of the metadata quorum and a broker), for tests of fail-over handling:
// Kill, Restart, Isolate and Heal a node by id, Leader to find whom to hit. A node that stops
// heartbeating is fenced after 2 s and its leaderships move (broker.session.timeout.ms=2000,
// broker.heartbeat.interval.ms=200, replica.lag.time.max.ms=2000; properties override them);
// default.replication.factor is min(nodes, 3).
//
//	cluster, err := odradek.StartTestCluster(3, nil)
//	defer cluster.Close()
//	producer, err := odradek.NewProducer(map[string]string{"bootstrap.servers": cluster.Bootstrap(), "acks": "all"})
//	leader, _ := cluster.Leader("orders", 0)
//	err = cluster.Kill(leader) // the producer fails over by itself
type TestCluster struct {
	mu     sync.Mutex
	handle *C.OdradekTestCluster
}

var errClusterClosed = errors.New("odradek: the test cluster is closed")

// StartTestCluster starts nodes nodes with these Kafka broker properties and returns once
// every node is registered.
func StartTestCluster(nodes int, properties map[string]string) (*TestCluster, error) {
	cfg := newCConfig(properties)
	defer cfg.free()
	var h *C.OdradekTestCluster
	if err := takeError(C.odradek_test_cluster_start(C.int32_t(nodes), cfg.entries, cfg.n, &h)); err != nil {
		return nil, err
	}
	liveHandles.Add(1)
	return &TestCluster{handle: h}, nil
}

// with runs f on the live handle, or fails once the cluster is closed.
func (c *TestCluster) with(f func(h *C.OdradekTestCluster) *C.OdradekError) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.handle == nil {
		return errClusterClosed
	}
	return takeError(f(c.handle))
}

// Bootstrap is "host:port,..." of every running node, for "bootstrap.servers". A restarted
// node keeps its port when it is free, so a list taken earlier stays valid.
func (c *TestCluster) Bootstrap() string {
	var out *C.char
	if c.with(func(h *C.OdradekTestCluster) *C.OdradekError {
		return C.odradek_test_cluster_bootstrap(h, &out)
	}) != nil {
		return ""
	}
	defer C.odradek_string_free(out)
	return C.GoString(out)
}

// ClientConfig is {"bootstrap.servers": Bootstrap()}.
func (c *TestCluster) ClientConfig() map[string]string {
	return map[string]string{"bootstrap.servers": c.Bootstrap()}
}

// NodeIDs lists every node id, running or not.
func (c *TestCluster) NodeIDs() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.handle == nil {
		return nil
	}
	n := int(C.odradek_test_cluster_node_count(c.handle))
	ids := make([]int, n)
	for i := range ids {
		ids[i] = i + 1
	}
	return ids
}

// Kill stops node id abruptly (no flush; its connections drop); its data stays for Restart.
func (c *TestCluster) Kill(id int) error {
	return c.with(func(h *C.OdradekTestCluster) *C.OdradekError {
		return C.odradek_test_cluster_kill(h, C.int32_t(id))
	})
}

// Restart starts node id again on its data and port (a running node is killed first) and
// returns once it is registered again.
func (c *TestCluster) Restart(id int) error {
	return c.with(func(h *C.OdradekTestCluster) *C.OdradekError {
		return C.odradek_test_cluster_restart(h, C.int32_t(id))
	})
}

// Isolate cuts node id off the network: it runs on, its connections close, and no client,
// peer or controller traffic reaches it or leaves it until Heal.
func (c *TestCluster) Isolate(id int) error {
	return c.with(func(h *C.OdradekTestCluster) *C.OdradekError {
		return C.odradek_test_cluster_isolate(h, C.int32_t(id))
	})
}

// Heal reconnects an isolated node.
func (c *TestCluster) Heal(id int) error {
	return c.with(func(h *C.OdradekTestCluster) *C.OdradekError {
		return C.odradek_test_cluster_heal(h, C.int32_t(id))
	})
}

// Leader is the partition's leader in the newest metadata a connected node has; ok is false
// when there is none now (or no such partition).
func (c *TestCluster) Leader(topic string, partition int) (id int, ok bool) {
	ct := C.CString(topic)
	defer C.free(unsafe.Pointer(ct))
	var out C.int32_t = -1
	if c.with(func(h *C.OdradekTestCluster) *C.OdradekError {
		return C.odradek_test_cluster_leader(h, ct, C.int32_t(partition), &out)
	}) != nil || out < 0 {
		return 0, false
	}
	return int(out), true
}

// Close kills every node and removes the data. Idempotent.
func (c *TestCluster) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.handle != nil {
		C.odradek_test_cluster_stop(c.handle)
		c.handle = nil
		liveHandles.Add(-1)
	}
	return nil
}
