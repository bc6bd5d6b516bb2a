package odradek

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// The cluster ops of the conformance scenarios (tests/conformance/README.md), for a scenario
// with "cluster": leader binds a node name to a partition's leader; kill_node, restart_node,
// isolate_node and heal_node act on a named node through TestCluster.

// runnerNodes is what these ops need of a scenario's runner.
type runnerNodes struct {
	cluster *TestCluster   // nil unless the scenario has "cluster"
	names   map[string]int // node ids by the names leader steps bound
}

func init() {
	allowedKeys["leader"] = []string{"topic", "partition", "name", "not", "timeout_ms"}
	adminOps["leader"] = (*runner).leader
	for op, act := range map[string]func(*TestCluster, int) error{
		"kill_node":    (*TestCluster).Kill,
		"restart_node": (*TestCluster).Restart,
		"isolate_node": (*TestCluster).Isolate,
		"heal_node":    (*TestCluster).Heal,
	} {
		allowedKeys[op] = []string{"node"}
		adminOps[op] = func(r *runner, _ context.Context, step map[string]json.RawMessage) error {
			if r.nodes.cluster == nil {
				return mismatch("a cluster op in a scenario without \"cluster\"")
			}
			name, err := get[string](step, "node")
			if err != nil {
				return err
			}
			id, err := r.node(name)
			if err != nil {
				return err
			}
			return act(r.nodes.cluster, id)
		}
	}
}

func (r *runner) node(name string) (int, error) {
	id, ok := r.nodes.names[name]
	if !ok {
		return 0, mismatch("no node named %q (bind it with a leader step)", name)
	}
	return id, nil
}

func (r *runner) leader(_ context.Context, step map[string]json.RawMessage) error {
	if r.nodes.cluster == nil {
		return mismatch("a cluster op in a scenario without \"cluster\"")
	}
	topic, err := get[string](step, "topic")
	if err != nil {
		return err
	}
	partition, err := get[int](step, "partition")
	if err != nil {
		return err
	}
	name, err := get[string](step, "name")
	if err != nil {
		return err
	}
	ms, err := get[int](step, "timeout_ms")
	if err != nil {
		return err
	}
	var excluded []int
	if _, ok := step["not"]; ok {
		names, err := get[[]string](step, "not")
		if err != nil {
			return err
		}
		for _, n := range names {
			id, err := r.node(n)
			if err != nil {
				return err
			}
			excluded = append(excluded, id)
		}
	}
	deadline := time.Now().Add(time.Duration(ms) * time.Millisecond)
	for {
		id, ok := r.nodes.cluster.Leader(topic, partition)
		if ok && !slices.Contains(excluded, id) {
			r.nodes.names[name] = id
			return nil
		}
		if time.Now().After(deadline) {
			return mismatch("no leader of %s-%d other than %v within %d ms (last seen: %d, %v)", topic, partition, excluded, ms, id, ok)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
