package odradek

// The conformance runner: every tests/conformance/scenarios/*.json against a fresh embedded
// broker, in the format of tests/conformance/README.md. An unknown op, or an unknown key of a
// known op, fails the scenario.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

type scenario struct {
	Name         string            `json:"name"`
	Description  string            `json:"description"`
	BrokerConfig map[string]string `json:"broker_config"`
	Security     string            `json:"security"`
	Cluster      *struct {
		Nodes int `json:"nodes"`
	} `json:"cluster"`
	Steps []map[string]json.RawMessage
}

// allowedKeys lists, per op, the keys a step may have (besides op, comment, expect_error).
var allowedKeys = map[string][]string{
	"create_topic":    {"topic", "partitions", "config", "replication_factor"},
	"producer":        {"client", "config"},
	"produce":         {"client", "topic", "records", "generate", "expect"},
	"flush":           {"client"},
	"consumer":        {"client", "config", "on_revoke"},
	"assign":          {"client", "partitions"},
	"subscribe":       {"client", "topics"},
	"consume":         {"client", "count", "timeout_ms", "expect", "generate"},
	"consume_none":    {"client", "timeout_ms"},
	"iterate":         {"client", "count", "timeout_ms", "expect"},
	"seek":            {"client", "topic", "partition", "offset"},
	"position":        {"client", "topic", "partition", "expect"},
	"pause":           {"client", "partitions"},
	"resume":          {"client", "partitions"},
	"commit":          {"client", "offsets"},
	"committed":       {"client", "partitions", "expect"},
	"wait_assignment": {"clients", "topic", "partitions", "timeout_ms"},
	"close":           {"client"},

	"init_transactions":           {"client"},
	"begin_transaction":           {"client"},
	"commit_transaction":          {"client"},
	"abort_transaction":           {"client"},
	"send_offsets_to_transaction": {"client", "consumer", "offsets"},

	"share_consumer":  {"client", "config"},
	"share_subscribe": {"client", "topics", "timeout_ms"},
	"share_poll":      {"client", "count", "timeout_ms", "expect"},
	"acknowledge":     {"client", "topic", "partition", "offsets", "type"},
	"share_commit":    {"client"},
}

func TestConformance(t *testing.T) {
	files, err := filepath.Glob("../tests/conformance/scenarios/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios found under ../tests/conformance/scenarios (%v)", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var sc scenario
		if err := json.Unmarshal(data, &sc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		// Scenarios run side by side (go test's -parallel, GOMAXPROCS by default): each has its
		// own broker, and most of a scenario's time is spent waiting.
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			runScenario(t, &sc)
		})
	}
}

type confClient struct {
	producer *Producer
	consumer *Consumer
	pending  []*Record // received by wait_assignment, handed out first by consume
	share    *ShareConsumer
	received []*ShareRecord // every record share_poll handed out, for acknowledge
}

type runner struct {
	// bootstrap.servers and, for a sasl_ssl scenario, the security keys; a step's config keys
	// replace these.
	base    map[string]string
	admin   *Admin
	clients map[string]*confClient
	// failures inside rebalance handlers ("on_revoke": "commit"), reported after the step
	callbackMu     sync.Mutex
	callbackErrors []string
	events         runnerEvents // stop_broker, expect_error_event, expect_log
	nodes          runnerNodes  // leader, kill_node, restart_node, isolate_node, heal_node
}

// The SCRAM user of the embedded broker in a "security": "sasl_ssl" scenario.
const saslUser, saslPassword = "conformance", "conformance-secret"

func runScenario(t *testing.T, sc *scenario) {
	var b *TestBroker
	var cluster *TestCluster
	var base map[string]string
	var err error
	switch {
	case sc.Cluster != nil:
		cluster, err = StartTestCluster(sc.Cluster.Nodes, sc.BrokerConfig)
	case sc.Security == "":
		b, err = StartTestBroker(sc.BrokerConfig)
	case sc.Security == "sasl_ssl":
		b, err = StartSaslSslTestBroker(saslUser, saslPassword, sc.BrokerConfig)
	default:
		t.Fatalf("scenario %s: unknown security %q", sc.Name, sc.Security)
	}
	if err != nil {
		t.Fatal(err)
	}
	if cluster != nil {
		defer cluster.Close()
		base = cluster.ClientConfig()
	} else {
		defer b.Close()
		base = b.ClientConfig()
	}
	admin, err := NewAdmin(base)
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{base: base, admin: admin, clients: map[string]*confClient{},
		events: runnerEvents{broker: b, errors: map[string]*errorLog{}},
		nodes:  runnerNodes{cluster: cluster, names: map[string]int{}}}
	defer r.endEvents()
	defer func() {
		for _, c := range r.clients {
			if c.producer != nil {
				c.producer.Close()
			}
			if c.consumer != nil {
				c.consumer.Close()
			}
			if c.share != nil {
				c.share.Close()
			}
		}
		admin.Close()
	}()
	for i, step := range sc.Steps {
		var op string
		if err := json.Unmarshal(step["op"], &op); err != nil {
			t.Fatalf("scenario %s step %d: no op", sc.Name, i)
		}
		err := r.step(op, step)
		r.callbackMu.Lock()
		failed := r.callbackErrors
		r.callbackErrors = nil
		r.callbackMu.Unlock()
		if err == nil && len(failed) > 0 {
			err = mismatch("%s", strings.Join(failed, "; "))
		}
		if err != nil {
			t.Fatalf("scenario %s step %d (%s): %v", sc.Name, i, op, err)
		}
	}
}

type expectedError struct {
	Name      string  `json:"name"`
	Retriable *bool   `json:"retriable"`
	Fatal     *bool   `json:"fatal"`
	Topic     *string `json:"topic"`
	Partition *int32  `json:"partition"`
}

func (r *runner) step(op string, step map[string]json.RawMessage) error {
	allowed, ok := allowedKeys[op]
	if !ok {
		return fmt.Errorf("unknown op %q", op)
	}
	for k := range step {
		if k == "op" || k == "comment" || k == "expect_error" {
			continue
		}
		found := false
		for _, a := range allowed {
			found = found || a == k
		}
		if !found {
			return fmt.Errorf("unknown key %q for op %q", k, op)
		}
	}
	var want *expectedError
	if raw, ok := step["expect_error"]; ok {
		want = &expectedError{}
		if err := json.Unmarshal(raw, want); err != nil {
			return err
		}
	}
	err := r.do(op, step, want)
	var stepErr *scenarioError
	if errors.As(err, &stepErr) {
		return err
	}
	if want == nil || op == "produce" {
		// produce checks expect_error on every delivery itself.
		return err
	}
	return checkError(err, want)
}

// scenarioError is a mismatch found by the runner (not a client error to compare).
type scenarioError struct{ msg string }

func (e *scenarioError) Error() string { return e.msg }

func mismatch(format string, args ...any) error {
	return &scenarioError{fmt.Sprintf(format, args...)}
}

func checkError(err error, want *expectedError) error {
	if err == nil {
		return mismatch("expected error %s, got success", want.Name)
	}
	var kerr *Error
	if !errors.As(err, &kerr) {
		return mismatch("expected error %s, got %v", want.Name, err)
	}
	if kerr.Name != want.Name {
		return mismatch("expected error %s, got %s (%s)", want.Name, kerr.Name, kerr.Message)
	}
	if want.Retriable != nil && *want.Retriable != kerr.Retriable {
		return mismatch("error %s: expected retriable=%v, got %v", kerr.Name, *want.Retriable, kerr.Retriable)
	}
	if want.Fatal != nil && *want.Fatal != kerr.IsFatal() {
		return mismatch("error %s: expected fatal=%v, got class %v", kerr.Name, *want.Fatal, kerr.Class)
	}
	if want.Topic != nil && *want.Topic != kerr.Topic {
		return mismatch("error %s: expected topic %q, got %q", kerr.Name, *want.Topic, kerr.Topic)
	}
	if want.Partition != nil && *want.Partition != kerr.Partition {
		return mismatch("error %s: expected partition %d, got %d", kerr.Name, *want.Partition, kerr.Partition)
	}
	return nil
}

func get[T any](step map[string]json.RawMessage, key string) (T, error) {
	var v T
	raw, ok := step[key]
	if !ok {
		return v, mismatch("missing key %q", key)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, mismatch("key %q: %v", key, err)
	}
	return v, nil
}

func configOf(step map[string]json.RawMessage, base map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	if raw, ok := step["config"]; ok {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, mismatch("config: %v", err)
		}
		for k, v := range m {
			switch x := v.(type) {
			case string:
				out[k] = x
			default:
				out[k] = strings.TrimSpace(fmt.Sprint(x))
			}
		}
	}
	return out, nil
}

// parseBytes reads the scenario byte forms: null, "text", {"hex": ...}, {"repeat": s, "count": n}.
func parseBytes(raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []byte(s), nil
	}
	var obj struct {
		Hex    *string `json:"hex"`
		Repeat *string `json:"repeat"`
		Count  int     `json:"count"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, mismatch("bytes %s: %v", raw, err)
	}
	switch {
	case obj.Hex != nil:
		return hex.DecodeString(*obj.Hex)
	case obj.Repeat != nil:
		return []byte(strings.Repeat(*obj.Repeat, obj.Count)), nil
	}
	return nil, mismatch("bytes %s: unknown form", raw)
}

type generate struct {
	Count int             `json:"count"`
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
}

func (g *generate) at(i int) (key, value []byte, err error) {
	sub := func(raw json.RawMessage) ([]byte, error) {
		b, err := parseBytes(raw)
		if b == nil || err != nil {
			return b, err
		}
		return []byte(strings.ReplaceAll(string(b), "{i}", strconv.Itoa(i))), nil
	}
	if key, err = sub(g.Key); err != nil {
		return
	}
	value, err = sub(g.Value)
	return
}

func (r *runner) client(step map[string]json.RawMessage) (*confClient, error) {
	name, err := get[string](step, "client")
	if err != nil {
		return nil, err
	}
	c, ok := r.clients[name]
	if !ok {
		return nil, mismatch("no client %q", name)
	}
	return c, nil
}

func (r *runner) consumerOf(step map[string]json.RawMessage) (*confClient, error) {
	c, err := r.client(step)
	if err == nil && c.consumer == nil {
		err = mismatch("client is not a consumer")
	}
	return c, err
}

func (r *runner) do(op string, step map[string]json.RawMessage, want *expectedError) error {
	ctx := context.Background()
	switch op {
	case "create_topic":
		name, err := get[string](step, "topic")
		if err != nil {
			return err
		}
		parts, err := get[int32](step, "partitions")
		if err != nil {
			return err
		}
		cfg, err := configOf(step, nil)
		if err != nil {
			return err
		}
		factor := int16(1)
		if _, ok := step["replication_factor"]; ok {
			if factor, err = get[int16](step, "replication_factor"); err != nil {
				return err
			}
		}
		return r.admin.CreateTopics(ctx, TopicSpec{Name: name, Partitions: parts, ReplicationFactor: factor, Config: cfg})
	case "producer", "consumer":
		name, err := get[string](step, "client")
		if err != nil {
			return err
		}
		cfg, err := configOf(step, r.base)
		if err != nil {
			return err
		}
		if op == "producer" {
			p, err := NewProducer(cfg)
			if err != nil {
				return err
			}
			r.clients[name] = &confClient{producer: p}
			return r.watchErrors(name, p.OnError)
		} else {
			c, err := NewConsumer(cfg)
			if err != nil {
				return err
			}
			r.clients[name] = &confClient{consumer: c}
			if err := r.watchErrors(name, c.OnError); err != nil {
				return err
			}
			if raw, ok := step["on_revoke"]; ok {
				var how string
				if err := json.Unmarshal(raw, &how); err != nil || how != "commit" {
					return mismatch("unknown on_revoke %s", raw)
				}
				// From the handler, as users do: the group waits, so the commit lands first.
				err := c.OnRebalance(func(ev RebalanceEvent) {
					if ev.Kind != PartitionsRevoked {
						return
					}
					if err := c.Commit(context.Background()); err != nil {
						r.callbackMu.Lock()
						r.callbackErrors = append(r.callbackErrors, fmt.Sprintf("commit in the revoke handler of %v: %v", ev.Partitions, err))
						r.callbackMu.Unlock()
					}
				})
				if err != nil {
					return err
				}
			}
		}
		return nil
	case "produce":
		return r.produce(step, want)
	case "flush":
		c, err := r.client(step)
		if err != nil {
			return err
		}
		return c.producer.Flush(ctx)
	case "assign":
		c, err := r.consumerOf(step)
		if err != nil {
			return err
		}
		parts, err := get[[]struct {
			Topic     string          `json:"topic"`
			Partition int32           `json:"partition"`
			Offset    json.RawMessage `json:"offset"`
		}](step, "partitions")
		if err != nil {
			return err
		}
		var tps []TopicPartition
		for _, p := range parts {
			tp := TopicPartition{Topic: p.Topic, Partition: p.Partition}
			var s string
			if json.Unmarshal(p.Offset, &s) == nil {
				switch s {
				case "earliest":
					tp.Offset = OffsetBeginning
				case "latest":
					tp.Offset = OffsetEnd
				case "committed":
					tp.Offset = OffsetStored
				default:
					return mismatch("offset %q", s)
				}
			} else if err := json.Unmarshal(p.Offset, &tp.Offset); err != nil {
				return mismatch("offset %s", p.Offset)
			}
			tps = append(tps, tp)
		}
		return c.consumer.Assign(ctx, tps)
	case "subscribe":
		c, err := r.consumerOf(step)
		if err != nil {
			return err
		}
		topics, err := get[[]string](step, "topics")
		if err != nil {
			return err
		}
		return c.consumer.Subscribe(topics...)
	case "consume":
		return r.consume(step)
	case "iterate":
		return r.iterate(step)
	case "consume_none":
		c, err := r.consumerOf(step)
		if err != nil {
			return err
		}
		ms, err := get[int](step, "timeout_ms")
		if err != nil {
			return err
		}
		if len(c.pending) > 0 {
			return mismatch("expected no record, %d pending", len(c.pending))
		}
		tctx, cancel := context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
		defer cancel()
		recs, err := c.consumer.PollBatch(tctx, 100)
		if errors.Is(err, context.DeadlineExceeded) {
			return nil
		}
		if err != nil {
			return err
		}
		return mismatch("expected no record, got %d (first at %s-%d@%d)", len(recs), recs[0].Topic, recs[0].Partition, recs[0].Offset)
	case "seek":
		c, err := r.consumerOf(step)
		if err != nil {
			return err
		}
		topic, _ := get[string](step, "topic")
		part, _ := get[int32](step, "partition")
		off, err := get[int64](step, "offset")
		if err != nil {
			return err
		}
		return c.consumer.Seek(topic, part, off)
	case "position":
		c, err := r.consumerOf(step)
		if err != nil {
			return err
		}
		topic, _ := get[string](step, "topic")
		part, _ := get[int32](step, "partition")
		exp, err := get[int64](step, "expect")
		if err != nil {
			return err
		}
		pos, err := c.consumer.Position(topic, part)
		if err != nil {
			return err
		}
		if pos != exp {
			return mismatch("position of %s-%d: expected %d, got %d", topic, part, exp, pos)
		}
		return nil
	case "pause", "resume":
		c, err := r.consumerOf(step)
		if err != nil {
			return err
		}
		parts, err := get[[]TopicPartition](step, "partitions")
		if err != nil {
			return err
		}
		if op == "pause" {
			return c.consumer.Pause(parts)
		}
		return c.consumer.Resume(parts)
	case "commit":
		c, err := r.consumerOf(step)
		if err != nil {
			return err
		}
		if _, ok := step["offsets"]; !ok {
			return c.consumer.Commit(ctx)
		}
		offs, err := get[[]TopicPartition](step, "offsets")
		if err != nil {
			return err
		}
		return c.consumer.CommitOffsets(ctx, offs)
	case "committed":
		c, err := r.consumerOf(step)
		if err != nil {
			return err
		}
		parts, err := get[[]TopicPartition](step, "partitions")
		if err != nil {
			return err
		}
		exp, err := get[[]int64](step, "expect")
		if err != nil {
			return err
		}
		got, err := c.consumer.Committed(ctx, parts)
		if err != nil {
			return err
		}
		for i, g := range got {
			off := g.Offset
			if off == OffsetInvalid {
				off = -1
			}
			if i >= len(exp) || off != exp[i] {
				return mismatch("committed %s-%d: expected %v, got %d", g.Topic, g.Partition, exp, off)
			}
		}
		return nil
	case "wait_assignment":
		return r.waitAssignment(step)
	case "init_transactions", "begin_transaction", "commit_transaction", "abort_transaction":
		c, err := r.client(step)
		if err != nil {
			return err
		}
		if c.producer == nil {
			return mismatch("client is not a producer")
		}
		switch op {
		case "init_transactions":
			return c.producer.InitTransactions(ctx)
		case "begin_transaction":
			return c.producer.BeginTransaction()
		case "commit_transaction":
			return c.producer.CommitTransaction(ctx)
		}
		return c.producer.AbortTransaction(ctx)
	case "send_offsets_to_transaction":
		return r.sendOffsetsToTransaction(ctx, step)
	case "close":
		c, err := r.client(step)
		if err != nil {
			return err
		}
		if c.producer != nil {
			return c.producer.Close()
		}
		if c.share != nil {
			return c.share.Close()
		}
		return c.consumer.Close()
	case "share_consumer", "share_subscribe", "share_poll", "acknowledge", "share_commit":
		return r.shareStep(op, step)
	}
	if admin, ok := adminOps[op]; ok {
		return admin(r, ctx, step)
	}
	return fmt.Errorf("unknown op %q", op)
}

// sendOffsetsToTransaction: the producer "client" adds "offsets" with the group metadata of
// the consumer named by "consumer".
func (r *runner) sendOffsetsToTransaction(ctx context.Context, step map[string]json.RawMessage) error {
	c, err := r.client(step)
	if err != nil {
		return err
	}
	if c.producer == nil {
		return mismatch("client is not a producer")
	}
	name, err := get[string](step, "consumer")
	if err != nil {
		return err
	}
	cons, ok := r.clients[name]
	if !ok || cons.consumer == nil {
		return mismatch("no consumer %q", name)
	}
	offs, err := get[[]TopicPartition](step, "offsets")
	if err != nil {
		return err
	}
	meta, err := cons.consumer.GetConsumerGroupMetadata()
	if err != nil {
		return err
	}
	return c.producer.SendOffsetsToTransaction(ctx, offs, meta)
}

func (r *runner) produce(step map[string]json.RawMessage, want *expectedError) error {
	c, err := r.client(step)
	if err != nil {
		return err
	}
	if c.producer == nil {
		return mismatch("client is not a producer")
	}
	topic, err := get[string](step, "topic")
	if err != nil {
		return err
	}
	var records []*Record
	if _, ok := step["records"]; ok {
		raws, err := get[[]map[string]json.RawMessage](step, "records")
		if err != nil {
			return err
		}
		for _, raw := range raws {
			rec, err := recordOf(raw)
			if err != nil {
				return err
			}
			rec.Topic = topic
			records = append(records, rec)
		}
	}
	if _, ok := step["generate"]; ok {
		g, err := get[generate](step, "generate")
		if err != nil {
			return err
		}
		for i := 0; i < g.Count; i++ {
			k, v, err := g.at(i)
			if err != nil {
				return err
			}
			records = append(records, &Record{Topic: topic, Key: k, Value: v})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reports, err := c.producer.ProduceBatch(ctx, records)
	if reports == nil {
		return err
	}
	if want != nil {
		for i, rep := range reports {
			if e := checkError(rep.Err, want); e != nil {
				return mismatch("record %d: %v", i, e)
			}
		}
		return nil
	}
	if err != nil {
		return err
	}
	if _, ok := step["expect"]; ok {
		exp, err := get[[]map[string]int64](step, "expect")
		if err != nil {
			return err
		}
		for i, e := range exp {
			if p, ok := e["partition"]; ok && int64(reports[i].Partition) != p {
				return mismatch("record %d: partition %d, expected %d", i, reports[i].Partition, p)
			}
			if o, ok := e["offset"]; ok && reports[i].Offset != o {
				return mismatch("record %d: offset %d, expected %d", i, reports[i].Offset, o)
			}
		}
	}
	return nil
}

func recordOf(raw map[string]json.RawMessage) (*Record, error) {
	rec := &Record{}
	var err error
	for k, v := range raw {
		switch k {
		case "key":
			rec.Key, err = parseBytes(v)
		case "value":
			rec.Value, err = parseBytes(v)
		case "partition":
			rec.UsePartition = true
			err = json.Unmarshal(v, &rec.Partition)
		case "timestamp":
			var ms int64
			err = json.Unmarshal(v, &ms)
			rec.Timestamp = time.UnixMilli(ms)
		case "headers":
			var hs [][]json.RawMessage
			if err = json.Unmarshal(v, &hs); err != nil {
				break
			}
			for _, h := range hs {
				var name string
				if len(h) != 2 || json.Unmarshal(h[0], &name) != nil {
					return nil, mismatch("header %s", h)
				}
				val, err := parseBytes(h[1])
				if err != nil {
					return nil, err
				}
				rec.Headers = append(rec.Headers, Header{Key: name, Value: val})
			}
		case "topic", "offset":
			// Expectation fields (consume).
		default:
			return nil, mismatch("unknown record key %q", k)
		}
		if err != nil {
			return nil, mismatch("record key %q: %v", k, err)
		}
	}
	return rec, nil
}

// readStep reads the consumer, count and timeout_ms of a consume or iterate step.
func (r *runner) readStep(step map[string]json.RawMessage) (c *confClient, count, ms int, err error) {
	if c, err = r.consumerOf(step); err != nil {
		return
	}
	if count, err = get[int](step, "count"); err != nil {
		return
	}
	ms, err = get[int](step, "timeout_ms")
	return
}

func (r *runner) consume(step map[string]json.RawMessage) error {
	c, count, ms, err := r.readStep(step)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(ms)*time.Millisecond)
	defer cancel()
	n := min(count, len(c.pending))
	got := append([]*Record(nil), c.pending[:n]...)
	c.pending = c.pending[n:]
	for len(got) < count {
		batch, err := c.consumer.PollBatch(ctx, count-len(got))
		if errors.Is(err, context.DeadlineExceeded) {
			return mismatch("received %d of %d records within %d ms", len(got), count, ms)
		}
		if err != nil {
			return err
		}
		got = append(got, batch...)
	}
	sort.SliceStable(got, func(i, j int) bool {
		a, b := got[i], got[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		if a.Partition != b.Partition {
			return a.Partition < b.Partition
		}
		return a.Offset < b.Offset
	})
	if err := checkExpect(step, got); err != nil {
		return err
	}
	if _, ok := step["generate"]; ok {
		g, err := get[generate](step, "generate")
		if err != nil {
			return err
		}
		wantSet := map[string]int{}
		for i := 0; i < g.Count; i++ {
			k, v, err := g.at(i)
			if err != nil {
				return err
			}
			wantSet[pairKey(k, v)]++
		}
		for _, rec := range got {
			wantSet[pairKey(rec.Key, rec.Value)]--
		}
		for k, n := range wantSet {
			if n != 0 {
				return mismatch("generated records differ: (key, value) %s off by %d", k, n)
			}
		}
	}
	return nil
}

// iterate takes records one at a time from the Records channel, then cancels the loop and
// waits until it has ended (errs is closed last), without receiving anything more.
func (r *runner) iterate(step map[string]json.RawMessage) error {
	c, count, ms, err := r.readStep(step)
	if err != nil {
		return err
	}
	if len(c.pending) > 0 {
		return mismatch("%d records were already waiting", len(c.pending))
	}
	ctx, cancel := context.WithCancel(context.Background())
	records, errs := c.consumer.Records(ctx)
	timeout := time.After(time.Duration(ms) * time.Millisecond)
	var got []*Record
	for len(got) < count {
		select {
		case rec, ok := <-records:
			if !ok {
				cancel()
				return mismatch("the record channel closed after %d of %d records", len(got), count)
			}
			got = append(got, rec)
		case <-timeout:
			cancel()
			for range errs {
			}
			return mismatch("received %d of %d records within %d ms", len(got), count, ms)
		}
	}
	cancel()
	for err := range errs {
		return err
	}
	return checkExpect(step, got)
}

// checkExpect compares the records with the step's "expect", position by position.
func checkExpect(step map[string]json.RawMessage, got []*Record) error {
	if _, ok := step["expect"]; ok {
		exp, err := get[[]map[string]json.RawMessage](step, "expect")
		if err != nil {
			return err
		}
		for i, e := range exp {
			if i >= len(got) {
				return mismatch("expected %d records, got %d", len(exp), len(got))
			}
			if err := matchRecord(got[i], e); err != nil {
				return mismatch("record %d (%s-%d@%d): %v", i, got[i].Topic, got[i].Partition, got[i].Offset, err)
			}
		}
	}
	return nil
}

func pairKey(k, v []byte) string {
	f := func(b []byte) string {
		if b == nil {
			return "null"
		}
		return strconv.Quote(string(b))
	}
	return f(k) + "=" + f(v)
}

func matchRecord(rec *Record, e map[string]json.RawMessage) error {
	for k, v := range e {
		switch k {
		case "topic":
			var s string
			if json.Unmarshal(v, &s); s != rec.Topic {
				return fmt.Errorf("topic %q, expected %q", rec.Topic, s)
			}
		case "partition":
			var p int32
			if json.Unmarshal(v, &p); p != rec.Partition {
				return fmt.Errorf("partition %d, expected %d", rec.Partition, p)
			}
		case "offset":
			var o int64
			if json.Unmarshal(v, &o); o != rec.Offset {
				return fmt.Errorf("offset %d, expected %d", rec.Offset, o)
			}
		case "key", "value":
			want, err := parseBytes(v)
			if err != nil {
				return err
			}
			have := rec.Key
			if k == "value" {
				have = rec.Value
			}
			if (want == nil) != (have == nil) || !bytes.Equal(want, have) {
				return fmt.Errorf("%s %q, expected %q", k, have, want)
			}
		case "headers":
			exp, err := recordOf(map[string]json.RawMessage{"headers": v})
			if err != nil {
				return err
			}
			if len(exp.Headers) != len(rec.Headers) {
				return fmt.Errorf("%d headers, expected %d", len(rec.Headers), len(exp.Headers))
			}
			for i, h := range exp.Headers {
				g := rec.Headers[i]
				if g.Key != h.Key || (g.Value == nil) != (h.Value == nil) || !bytes.Equal(g.Value, h.Value) {
					return fmt.Errorf("header %d: %q=%q, expected %q=%q", i, g.Key, g.Value, h.Key, h.Value)
				}
			}
		default:
			return fmt.Errorf("unknown expected field %q", k)
		}
	}
	return nil
}

func (r *runner) waitAssignment(step map[string]json.RawMessage) error {
	names, err := get[[]string](step, "clients")
	if err != nil {
		return err
	}
	topic, _ := get[string](step, "topic")
	partitions, _ := get[int32](step, "partitions")
	ms, err := get[int](step, "timeout_ms")
	if err != nil {
		return err
	}
	deadline := time.Now().Add(time.Duration(ms) * time.Millisecond)
	var last string
	for {
		owners := map[int32]int{}
		eachOwns := true
		for _, n := range names {
			c, ok := r.clients[n]
			if !ok || c.consumer == nil {
				return mismatch("no consumer %q", n)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			batch, err := c.consumer.PollBatch(ctx, 1000)
			cancel()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			c.pending = append(c.pending, batch...)
			parts, err := c.consumer.Assignment()
			if err != nil {
				return err
			}
			mine := 0
			for _, p := range parts {
				if p.Topic == topic {
					owners[p.Partition]++
					mine++
				}
			}
			if mine == 0 && int(partitions) >= len(names) {
				eachOwns = false
			}
		}
		ok := eachOwns && len(owners) == int(partitions)
		for p, n := range owners {
			ok = ok && n == 1 && p >= 0 && p < partitions
		}
		if ok {
			return nil
		}
		last = fmt.Sprint(owners)
		if time.Now().After(deadline) {
			return mismatch("assignment of %s not settled within %d ms: owners per partition %s", topic, ms, last)
		}
	}
}

// The runner itself fails on what it does not know (so a new op shows up here at once).
func TestConformanceRunnerRejectsUnknownOpsAndKeys(t *testing.T) {
	r := &runner{clients: map[string]*confClient{}}
	if err := r.step("frobnicate", map[string]json.RawMessage{}); err == nil {
		t.Fatal("an unknown op passed")
	}
	if err := r.step("flush", map[string]json.RawMessage{"client": []byte(`"p"`), "bogus": []byte(`1`)}); err == nil {
		t.Fatal("an unknown key passed")
	}
}
