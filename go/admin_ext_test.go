package odradek

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Configs, records, cluster and offsets by time on the embedded broker.
func TestAdminConfigsRecordsClusterOffsetsForTimes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	createTopic(t, "go-admin-cfg", 1)
	admin := must(NewAdmin(cfg()))
	defer admin.Close()

	if err := admin.AlterTopicConfigs(ctx, "go-admin-cfg", SetConfig("retention.ms", "3600000")); err != nil {
		t.Fatal(err)
	}
	entries := must(admin.DescribeTopicConfigs(ctx, "go-admin-cfg", "retention.ms"))
	if len(entries) != 1 || entries[0].Value == nil || *entries[0].Value != "3600000" || entries[0].Default {
		t.Fatalf("after set: %+v", entries)
	}
	if err := admin.AlterTopicConfigs(ctx, "go-admin-cfg", DeleteConfig("retention.ms")); err != nil {
		t.Fatal(err)
	}
	entries = must(admin.DescribeTopicConfigs(ctx, "go-admin-cfg", "retention.ms"))
	if len(entries) != 1 || !entries[0].Default {
		t.Fatalf("after delete: %+v", entries)
	}
	if _, err := admin.DescribeTopicConfigs(ctx, "go-admin-no-such-topic"); !errors.Is(err, ErrUnknownTopicOrPartition) {
		t.Fatalf("configs of a missing topic: %v", err)
	}

	cluster := must(admin.DescribeCluster(ctx))
	if cluster.ClusterID == "" || len(cluster.Brokers) != 1 || cluster.Brokers[0].Port <= 0 {
		t.Fatalf("cluster: %+v", cluster)
	}

	p := must(NewProducer(cfg()))
	defer p.Close()
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i := 0; i < 5; i++ {
		r := &Record{Topic: "go-admin-cfg", Value: []byte("v"), Timestamp: base.Add(time.Duration(i) * time.Minute)}
		if _, err := p.Produce(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	c := must(NewConsumer(cfg()))
	defer c.Close()
	at := base.Add(2 * time.Minute).UnixMilli()
	found := must(c.OffsetsForTimes(ctx, []TopicPartition{{Topic: "go-admin-cfg", Partition: 0, Offset: at}}))
	if len(found) != 1 || found[0].Offset != 2 {
		t.Fatalf("offsets for times: %+v", found)
	}
	later := must(c.OffsetsForTimes(ctx, []TopicPartition{{Topic: "go-admin-cfg", Partition: 0, Offset: time.Now().Add(time.Hour).UnixMilli()}}))
	if later[0].Offset != OffsetEnd {
		t.Fatalf("offsets for a future time: %+v", later)
	}

	low := must(admin.DeleteRecords(ctx, []TopicPartition{{Topic: "go-admin-cfg", Partition: 0, Offset: 3}}))
	if len(low) != 1 || low[0].Offset != 3 {
		t.Fatalf("delete records: %+v", low)
	}
	if l, _, err := c.Watermarks(ctx, "go-admin-cfg", 0); err != nil || l != 3 {
		t.Fatalf("low watermark after delete: %d %v", l, err)
	}
}

// A group's offsets, lag, listing, description and deletion.
func TestAdminGroups(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	createTopic(t, "go-admin-grp", 2)
	admin := must(NewAdmin(cfg()))
	defer admin.Close()
	p := must(NewProducer(cfg()))
	defer p.Close()
	for i := 0; i < 4; i++ {
		if _, err := p.Produce(ctx, &Record{Topic: "go-admin-grp", Partition: 0, UsePartition: true, Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	const group = "go-admin-group"
	if err := admin.CommitOffsets(ctx, group, []TopicPartition{{Topic: "go-admin-grp", Partition: 0, Offset: 1}}); err != nil {
		t.Fatal(err)
	}
	offsets := must(admin.FetchOffsets(ctx, group))
	if len(offsets) != 1 || offsets[0] != (TopicPartition{Topic: "go-admin-grp", Partition: 0, Offset: 1}) {
		t.Fatalf("fetch offsets: %+v", offsets)
	}
	lag := must(admin.Lag(ctx, group, "go-admin-grp"))
	if len(lag) != 2 || lag[0].Committed != 1 || lag[0].End != 4 || lag[0].Lag != 3 ||
		lag[1].Committed != OffsetInvalid || lag[1].Lag != 0 {
		t.Fatalf("lag: %+v", lag)
	}
	if err := admin.CommitOffsets(ctx, group, []TopicPartition{{Topic: "go-admin-grp", Partition: 1, Offset: 0}}); err != nil {
		t.Fatal(err)
	}
	groups := must(admin.ListGroups(ctx))
	listed := false
	for _, g := range groups {
		listed = listed || g.Group == group
	}
	if !listed {
		t.Fatalf("%s not listed: %+v", group, groups)
	}
	described := must(admin.DescribeGroups(ctx, group, "go-admin-never"))
	if len(described) != 2 || described[0].State != "Empty" || len(described[0].Members) != 0 || described[1].State != "Dead" {
		t.Fatalf("describe: %+v", described)
	}
	if err := admin.DeleteOffsets(ctx, group, []TopicPartition{{Topic: "go-admin-grp", Partition: 0}}); err != nil {
		t.Fatal(err)
	}
	// The group keeps its offset of partition 1 (a group without any is gone at once).
	if offsets := must(admin.FetchOffsets(ctx, group)); len(offsets) != 1 || offsets[0].Partition != 1 {
		t.Fatalf("offsets after delete: %+v", offsets)
	}
	if err := admin.DeleteGroups(ctx, group); err != nil {
		t.Fatal(err)
	}
	if err := admin.DeleteGroups(ctx, group); err == nil {
		t.Fatal("deleting a deleted group succeeded")
	}
}

// ACLs and SCRAM users through a SASL_SSL broker with an authorizer; the password never
// shows in the upsert's formatting.
func TestAdminACLsAndSCRAM(t *testing.T) {
	b, err := StartSaslSslTestBroker("alice", "alice-secret", map[string]string{
		"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users":           "User:alice"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := must(NewAdmin(b.ClientConfig()))
	defer admin.Close()
	grant := ACL{ResourceType: ACLResourceTopic, ResourceName: "go-acl-", PatternType: ACLPatternPrefixed,
		Principal: "User:bob", Host: "*", Operation: ACLOperationRead, Permission: ACLPermissionAllow}
	if err := admin.CreateACLs(ctx, grant); err != nil {
		t.Fatal(err)
	}
	forBob := ACLFilter{ResourceType: ACLResourceAny, PatternType: ACLPatternAny, Principal: "User:bob",
		Operation: ACLOperationAny, Permission: ACLPermissionAny}
	if acls := must(admin.DescribeACLs(ctx, forBob)); len(acls) != 1 || acls[0] != grant {
		t.Fatalf("describe ACLs: %+v", acls)
	}
	bad := grant
	bad.Operation = 99
	var kerr *Error
	if err := admin.CreateACLs(ctx, bad); !errors.As(err, &kerr) || kerr.Name != "_INVALID_ARG" {
		t.Fatalf("an unknown operation: %v", err)
	}

	upsert := UpsertSCRAM{User: "bob", Mechanism: ScramSHA512, Password: "bob-secret", Iterations: 4096}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(f, upsert); strings.Contains(s, "bob-secret") {
			t.Fatalf("%s shows the password: %s", f, s)
		}
	}
	if err := admin.AlterUserSCRAMs(ctx, nil, []UpsertSCRAM{upsert}); err != nil {
		t.Fatal(err)
	}
	creds := must(admin.DescribeUserSCRAMs(ctx, "bob"))
	if len(creds) != 1 || creds[0] != (DescribedUserSCRAM{User: "bob", Mechanism: ScramSHA512, Iterations: 4096}) {
		t.Fatalf("bob's credentials: %+v", creds)
	}
	bob := b.ClientConfig()
	bob["sasl.username"], bob["sasl.password"] = "bob", "bob-secret"
	bobAdmin := must(NewAdmin(bob))
	err = bobAdmin.CreateACLs(ctx, grant)
	bobAdmin.Close()
	if !errors.As(err, &kerr) || kerr.Name != "CLUSTER_AUTHORIZATION_FAILED" {
		t.Fatalf("bob creates an ACL: %v", err)
	}

	if deleted := must(admin.DeleteACLs(ctx, forBob)); len(deleted) != 1 || deleted[0] != grant {
		t.Fatalf("delete ACLs: %+v", deleted)
	}
	if err := admin.AlterUserSCRAMs(ctx, []DeleteSCRAM{{User: "bob", Mechanism: ScramSHA512}}, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range must(admin.DescribeUserSCRAMs(ctx)) {
		if c.User == "bob" {
			t.Fatalf("bob still has a credential: %+v", c)
		}
	}
}
