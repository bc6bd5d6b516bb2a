package odradek

import (
	"context"
	"encoding/json"
	"sort"
)

// The admin ops of the conformance scenarios (tests/conformance/README.md) and the consumer's
// watermarks and offsets_for_times; admin ops use the runner's one admin client.
var adminOps = map[string]func(r *runner, ctx context.Context, step map[string]json.RawMessage) error{
	"watermarks":          (*runner).watermarks,
	"offsets_for_times":   (*runner).offsetsForTimes,
	"describe_cluster":    (*runner).describeCluster,
	"describe_group":      (*runner).describeGroup,
	"group_lag":           (*runner).groupLag,
	"alter_group_offsets": (*runner).alterGroupOffsets,
	"delete_group":        (*runner).deleteGroup,
	"alter_config":        (*runner).alterConfig,
	"describe_config":     (*runner).describeConfig,
	"delete_records":      (*runner).deleteRecords,
}

func init() {
	for op, keys := range map[string][]string{
		"watermarks":          {"client", "topic", "partition", "expect"},
		"offsets_for_times":   {"client", "partitions", "expect"},
		"describe_cluster":    {"brokers"},
		"describe_group":      {"group", "state", "members"},
		"group_lag":           {"group", "expect"},
		"alter_group_offsets": {"group", "offsets"},
		"delete_group":        {"group"},
		"alter_config":        {"topic", "set"},
		"describe_config":     {"topic", "expect"},
		"delete_records":      {"topic", "partition", "offset", "expect"},
	} {
		allowedKeys[op] = keys
	}
}

func (r *runner) watermarks(ctx context.Context, step map[string]json.RawMessage) error {
	c, err := r.consumerOf(step)
	if err != nil {
		return err
	}
	topic, err := get[string](step, "topic")
	if err != nil {
		return err
	}
	partition, err := get[int32](step, "partition")
	if err != nil {
		return err
	}
	want, err := get[[2]int64](step, "expect")
	if err != nil {
		return err
	}
	low, high, err := c.consumer.Watermarks(ctx, topic, partition)
	if err != nil {
		return err
	}
	if low != want[0] || high != want[1] {
		return mismatch("watermarks %s-%d: expected %v, got [%d %d]", topic, partition, want, low, high)
	}
	return nil
}

func (r *runner) offsetsForTimes(ctx context.Context, step map[string]json.RawMessage) error {
	c, err := r.consumerOf(step)
	if err != nil {
		return err
	}
	type query struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Timestamp int64  `json:"timestamp"`
	}
	queries, err := get[[]query](step, "partitions")
	if err != nil {
		return err
	}
	want, err := get[[]int64](step, "expect")
	if err != nil {
		return err
	}
	var times []TopicPartition
	for _, q := range queries {
		times = append(times, TopicPartition{Topic: q.Topic, Partition: q.Partition, Offset: q.Timestamp})
	}
	found, err := c.consumer.OffsetsForTimes(ctx, times)
	if err != nil {
		return err
	}
	got := make([]int64, len(found))
	for i, f := range found {
		got[i] = f.Offset
	}
	if len(got) != len(want) {
		return mismatch("offsets_for_times: expected %v, got %v", want, got)
	}
	for i := range got {
		if got[i] != want[i] {
			return mismatch("offsets_for_times: expected %v, got %v", want, got)
		}
	}
	return nil
}

func (r *runner) describeCluster(ctx context.Context, step map[string]json.RawMessage) error {
	brokers, err := get[int](step, "brokers")
	if err != nil {
		return err
	}
	cluster, err := r.admin.DescribeCluster(ctx)
	if err != nil {
		return err
	}
	controllerListed := false
	for _, b := range cluster.Brokers {
		controllerListed = controllerListed || b.NodeID == cluster.Controller
	}
	if len(cluster.Brokers) != brokers || !controllerListed {
		return mismatch("describe_cluster: expected %d brokers with the controller among them, got %+v", brokers, cluster)
	}
	return nil
}

func (r *runner) describeGroup(ctx context.Context, step map[string]json.RawMessage) error {
	group, err := get[string](step, "group")
	if err != nil {
		return err
	}
	state, err := get[string](step, "state")
	if err != nil {
		return err
	}
	members, err := get[int](step, "members")
	if err != nil {
		return err
	}
	described, err := r.admin.DescribeGroups(ctx, group)
	if err != nil {
		return err
	}
	if len(described) != 1 || described[0].State != state || len(described[0].Members) != members {
		return mismatch("describe_group %s: expected %s with %d members, got %+v", group, state, members, described)
	}
	return nil
}

func (r *runner) groupLag(ctx context.Context, step map[string]json.RawMessage) error {
	group, err := get[string](step, "group")
	if err != nil {
		return err
	}
	want, err := get[[]map[string]json.RawMessage](step, "expect")
	if err != nil {
		return err
	}
	lags, err := r.admin.Lag(ctx, group)
	if err != nil {
		return err
	}
	sort.Slice(lags, func(i, j int) bool {
		if lags[i].Topic != lags[j].Topic {
			return lags[i].Topic < lags[j].Topic
		}
		return lags[i].Partition < lags[j].Partition
	})
	if len(lags) != len(want) {
		return mismatch("group_lag %s: expected %d partitions, got %+v", group, len(want), lags)
	}
	for i, l := range lags {
		committed := l.Committed
		if committed == OffsetInvalid {
			committed = -1 // the scenarios' "none"
		}
		for key, raw := range want[i] {
			var got any
			switch key {
			case "topic":
				got = l.Topic
			case "partition":
				got = int64(l.Partition)
			case "committed":
				got = committed
			case "log_end":
				got = l.End
			case "lag":
				got = l.Lag
			default:
				return mismatch("group_lag: unknown key %q", key)
			}
			var expected any
			if key == "topic" {
				var s string
				err = json.Unmarshal(raw, &s)
				expected = s
			} else {
				var n int64
				err = json.Unmarshal(raw, &n)
				expected = n
			}
			if err != nil || expected != got {
				return mismatch("group_lag %s [%d].%s: expected %s, got %v (%+v)", group, i, key, raw, got, l)
			}
		}
	}
	return nil
}

func (r *runner) alterGroupOffsets(ctx context.Context, step map[string]json.RawMessage) error {
	group, err := get[string](step, "group")
	if err != nil {
		return err
	}
	offsets, err := get[[]struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
	}](step, "offsets")
	if err != nil {
		return err
	}
	var tps []TopicPartition
	for _, o := range offsets {
		tps = append(tps, TopicPartition{Topic: o.Topic, Partition: o.Partition, Offset: o.Offset})
	}
	return r.admin.CommitOffsets(ctx, group, tps)
}

func (r *runner) deleteGroup(ctx context.Context, step map[string]json.RawMessage) error {
	group, err := get[string](step, "group")
	if err != nil {
		return err
	}
	return r.admin.DeleteGroups(ctx, group)
}

func (r *runner) alterConfig(ctx context.Context, step map[string]json.RawMessage) error {
	topic, err := get[string](step, "topic")
	if err != nil {
		return err
	}
	set, err := get[map[string]string](step, "set")
	if err != nil {
		return err
	}
	var changes []AlterConfig
	for k, v := range set {
		changes = append(changes, SetConfig(k, v))
	}
	return r.admin.AlterTopicConfigs(ctx, topic, changes...)
}

func (r *runner) describeConfig(ctx context.Context, step map[string]json.RawMessage) error {
	topic, err := get[string](step, "topic")
	if err != nil {
		return err
	}
	want, err := get[map[string]string](step, "expect")
	if err != nil {
		return err
	}
	entries, err := r.admin.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return err
	}
	got := map[string]string{}
	for _, e := range entries {
		if e.Value != nil {
			got[e.Name] = *e.Value
		}
	}
	for k, v := range want {
		if got[k] != v {
			return mismatch("describe_config %s: %s expected %q, got %q", topic, k, v, got[k])
		}
	}
	return nil
}

func (r *runner) deleteRecords(ctx context.Context, step map[string]json.RawMessage) error {
	topic, err := get[string](step, "topic")
	if err != nil {
		return err
	}
	partition, err := get[int32](step, "partition")
	if err != nil {
		return err
	}
	offset, err := get[int64](step, "offset")
	if err != nil {
		return err
	}
	low, err := r.admin.DeleteRecords(ctx, []TopicPartition{{Topic: topic, Partition: partition, Offset: offset}})
	if err != nil {
		return err
	}
	if _, ok := step["expect"]; ok {
		want, err := get[int64](step, "expect")
		if err != nil {
			return err
		}
		if len(low) != 1 || low[0].Offset != want {
			return mismatch("delete_records %s-%d: expected low watermark %d, got %+v", topic, partition, want, low)
		}
	}
	return nil
}
