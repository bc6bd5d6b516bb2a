package interop

// franz-go through leader changes on our 3-node cluster (issue #22): an idempotent acks=all
// producer and a consumer group member run on while the test kills a partition's leader, then
// cuts the next leader off the network and heals it; neither client is restarted or told.
// Afterwards every acknowledged record is in the log exactly once, in order per partition.

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/odradek/odradek/go"
)

const (
	failoverTopic      = "franz-failover"
	failoverPartitions = 3
	failoverKeys       = 6
)

// acks are the franz-go producer's delivery reports: partition -> offset -> value.
type acks struct {
	mu     sync.Mutex
	byPart map[int32]map[int64]string
	failed []string
}

func (a *acks) add(r *kgo.Record, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.failed = append(a.failed, fmt.Sprintf("%s: %v", r.Value, err))
		return
	}
	a.byPart[r.Partition][r.Offset] = string(r.Value)
}

func (a *acks) counts() [failoverPartitions]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out [failoverPartitions]int
	for p := range out {
		out[p] = len(a.byPart[int32(p)])
	}
	return out
}

// waitProgress fails the test unless every partition gets 20 more acknowledgements within 15 s
// (the 2 s fencing of a lost leader plus the client's metadata refresh fit well inside).
func waitProgress(t *testing.T, a *acks, what string) {
	t.Helper()
	before := a.counts()
	deadline := time.Now().Add(15 * time.Second)
	for {
		now := a.counts()
		done := true
		for p := range now {
			done = done && now[p] >= before[p]+20
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the franz-go producer did not recover within 15 s (acks per partition %v -> %v)", what, before, now)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// newLeader waits until partition 0 has a leader other than old.
func newLeader(t *testing.T, c *odradek.TestCluster, old int) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if id, ok := c.Leader(failoverTopic, 0); ok && id != old {
			return id
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("partition 0 has no leader other than node %d after 15 s", old)
	return 0
}

func TestFranzGoRidesOutLeaderChanges(t *testing.T) {
	cluster, err := odradek.StartTestCluster(3, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	admin := must(odradek.NewAdmin(cluster.ClientConfig()))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := admin.CreateTopics(ctx, odradek.TopicSpec{Name: failoverTopic, Partitions: failoverPartitions, ReplicationFactor: 3}); err != nil {
		t.Fatal(err)
	}
	admin.Close()
	first := newLeader(t, cluster, 0)
	seeds := kgo.SeedBrokers(strings.Split(cluster.Bootstrap(), ",")...)

	// franz-go's defaults: acks=all, idempotent, retries until delivered. Key kN goes to
	// partition N mod 3, so every partition has traffic whatever the key hash.
	producer, err := kgo.NewClient(seeds, kgo.DefaultProduceTopic(failoverTopic), kgo.ProducerLinger(5*time.Millisecond),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	got := &acks{byPart: map[int32]map[int64]string{}}
	for p := int32(0); p < failoverPartitions; p++ {
		got.byPart[p] = map[int64]string{}
	}
	stop := make(chan struct{})
	produced := make(chan int)
	go func() { // 500 records/s over keys k0..k5, values "kN:seq"
		sent, start := 0, time.Now()
		for {
			select {
			case <-stop:
				produced <- sent
				return
			case <-time.After(5 * time.Millisecond):
			}
			for due := int(time.Since(start).Seconds() * 500); sent < due; sent++ {
				k := sent % failoverKeys
				producer.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprintf("k%d", k)), Partition: int32(k % failoverPartitions),
					Value: []byte(fmt.Sprintf("k%d:%d", k, sent/failoverKeys))}, got.add)
			}
		}
	}()

	group, err := kgo.NewClient(seeds, kgo.ConsumerGroup("franz-failover-group"), kgo.ConsumeTopics(failoverTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer group.Close()
	var seenMu sync.Mutex
	seen := map[int32]map[int64]string{}
	groupCtx, stopGroup := context.WithCancel(ctx)
	groupDone := make(chan struct{})
	go func() {
		defer close(groupDone)
		for groupCtx.Err() == nil {
			fetches := group.PollFetches(groupCtx)
			seenMu.Lock()
			fetches.EachRecord(func(r *kgo.Record) {
				if seen[r.Partition] == nil {
					seen[r.Partition] = map[int64]string{}
				}
				seen[r.Partition][r.Offset] = string(r.Value)
			})
			seenMu.Unlock()
		}
	}()

	waitProgress(t, got, "warm-up")
	t0 := time.Now()
	if err := cluster.Kill(first); err != nil {
		t.Fatal(err)
	}
	second := newLeader(t, cluster, first)
	waitProgress(t, got, fmt.Sprintf("after killing leader %d", first))
	t.Logf("kill of node %d: leader %d and 20 acks on every partition after %v", first, second, time.Since(t0))
	if err := cluster.Restart(first); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	if err := cluster.Isolate(second); err != nil {
		t.Fatal(err)
	}
	third := newLeader(t, cluster, second)
	waitProgress(t, got, fmt.Sprintf("after isolating leader %d", second))
	t.Logf("isolation of node %d: leader %d and 20 acks on every partition after %v", second, third, time.Since(t0))
	if err := cluster.Heal(second); err != nil {
		t.Fatal(err)
	}
	waitProgress(t, got, fmt.Sprintf("after healing node %d", second))
	close(stop)
	sent := <-produced
	if err := producer.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(got.failed) > 0 {
		t.Fatalf("%d of %d records failed though franz-go retries until delivered, e.g. %s", len(got.failed), sent, got.failed[0])
	}
	total := 0
	for _, n := range got.counts() {
		total += n
	}
	if total != sent {
		t.Fatalf("%d records sent, %d acknowledged", sent, total)
	}

	// The consumer group member, never restarted, must have seen every acknowledged record.
	deadline := time.Now().Add(20 * time.Second)
	for {
		seenMu.Lock()
		missing := 0
		for p, offs := range got.byPart {
			for o, v := range offs {
				if w, ok := seen[p][o]; !ok {
					missing++
				} else if w != v {
					seenMu.Unlock()
					t.Fatalf("group member read %q at %d/%d, the producer was acknowledged %q", w, p, o, v)
				}
			}
		}
		seenMu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group member is %d of %d acknowledged records short 20 s after the producer ended", missing, total)
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopGroup()
	<-groupDone

	checkLog(t, seeds, got, total)
}

// checkLog reads every partition from the start with a fresh franz-go consumer: each partition
// must hold exactly the acknowledged records at their acknowledged offsets (so none lost, none
// twice, no unacknowledged extra), and each key's sequence must rise.
func checkLog(t *testing.T, seeds kgo.Opt, got *acks, total int) {
	t.Helper()
	parts := map[int32]kgo.Offset{}
	for p := int32(0); p < failoverPartitions; p++ {
		parts[p] = kgo.NewOffset().AtStart()
	}
	reader, err := kgo.NewClient(seeds, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{failoverTopic: parts}))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := map[int32][]*kgo.Record{}
	read := 0
	for read < total {
		fetches := reader.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records in 30 s", read, total)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			log[r.Partition] = append(log[r.Partition], r)
			read++
		})
	}
	last := map[string]int{}
	for p := int32(0); p < failoverPartitions; p++ {
		want := got.byPart[p]
		if len(log[p]) != len(want) {
			t.Fatalf("partition %d holds %d records, %d were acknowledged", p, len(log[p]), len(want))
		}
		offsets := make([]int64, 0, len(want))
		for o := range want {
			offsets = append(offsets, o)
		}
		sort.Slice(offsets, func(i, j int) bool { return offsets[i] < offsets[j] })
		for i, r := range log[p] {
			if r.Offset != offsets[i] || string(r.Value) != want[r.Offset] {
				t.Fatalf("partition %d, record %d: %q at offset %d; acknowledged %q at %d",
					p, i, r.Value, r.Offset, want[offsets[i]], offsets[i])
			}
			key, seq, _ := strings.Cut(string(r.Value), ":")
			n, _ := strconv.Atoi(seq)
			if prev, ok := last[key]; ok && n <= prev {
				t.Fatalf("key %s: %d after %d (out of order or duplicated)", key, n, prev)
			}
			last[key] = n
		}
	}
	t.Logf("%d records acknowledged through two leader changes, each read back once and in order", total)
}
