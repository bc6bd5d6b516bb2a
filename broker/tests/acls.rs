//! ACLs with Kafka's semantics, from raw clients authenticated with SASL/PLAIN: what each
//! principal sees and may do, the ACL admin APIs, and that ACLs survive a restart.

mod common;

use common::*;
use kafka_protocol::messages::*;
use kafka_protocol::records::Compression;
use odradek_broker::FsyncPolicy;

const PROPS: &str = "listeners=SASL_PLAINTEXT://127.0.0.1:0
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin=\"admin-pw\" user_alice=\"alice-pw\" user_bob=\"bob-pw\";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
";

fn acl(
    name: &str,
    pattern: i8,
    principal: &str,
    operation: i8,
) -> create_acls_request::AclCreation {
    let mut a = create_acls_request::AclCreation::default();
    a.resource_type = 2; // TOPIC
    a.resource_name = s(name);
    a.resource_pattern_type = pattern;
    a.principal = s(principal);
    a.host = s("*");
    a.operation = operation;
    a.permission_type = 3; // ALLOW
    a
}

async fn topic_names(c: &mut Client) -> Vec<String> {
    let mut all = MetadataRequest::default();
    all.topics = None;
    let m = c.call(all, 12).await;
    m.topics
        .iter()
        .map(|t| t.name.as_ref().unwrap().to_string())
        .collect()
}

async fn named_metadata_error(c: &mut Client, name: &str) -> i16 {
    let mut req = MetadataRequest::default();
    let mut t = metadata_request::MetadataRequestTopic::default();
    t.name = Some(topic(name));
    req.topics = Some(vec![t]);
    req.allow_auto_topic_creation = false;
    c.call(req, 12).await.topics[0].error_code
}

fn everything() -> DescribeAclsRequest {
    let mut d = DescribeAclsRequest::default();
    d.resource_type_filter = 1;
    d.resource_name_filter = None;
    d.principal_filter = None;
    d.host_filter = None;
    d.pattern_type_filter = 1;
    d.operation = 1;
    d.permission_type = 1;
    d
}

#[tokio::test]
async fn acls_decide_who_sees_and_writes_what_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let b = start_in(dir.path(), PROPS, FsyncPolicy::Never).await;
    let addr = b.local_addr();
    let mut admin = login_plain(addr, "admin").await;
    assert_eq!(create_topic(&mut admin, "orders-eu", 1, &[]).await, 0);
    assert_eq!(create_topic(&mut admin, "payroll", 1, &[]).await, 0);

    // No ACL at all: alice sees nothing and may write nothing.
    let mut alice = login_plain(addr, "alice").await;
    assert!(topic_names(&mut alice).await.is_empty());
    let one = batch(&["v"], None, None, Compression::None);
    assert_eq!(
        produce(&mut alice, "orders-eu", 0, one.clone(), -1).await.0,
        29
    );

    // alice may WRITE topics prefixed "orders-" (DESCRIBE implied); bob may not create ACLs.
    let mut bob = login_plain(addr, "bob").await;
    let mut req = CreateAclsRequest::default();
    req.creations.push(acl("orders-", 4, "User:alice", 4)); // PREFIXED, WRITE
    let r = bob.call(req.clone(), 3).await;
    assert_eq!(r.results[0].error_code, 31, "CLUSTER_AUTHORIZATION_FAILED");
    let r = admin.call(req, 3).await;
    assert_eq!(
        r.results[0].error_code, 0,
        "{:?}",
        r.results[0].error_message
    );

    assert_eq!(topic_names(&mut alice).await, ["orders-eu"]);
    assert_eq!(named_metadata_error(&mut alice, "payroll").await, 29);
    assert_eq!(named_metadata_error(&mut alice, "orders-eu").await, 0);
    assert_eq!(
        produce(&mut alice, "orders-eu", 0, one.clone(), -1).await.0,
        0
    );
    assert_eq!(
        fetch(&mut alice, "orders-eu", 0, 0, 1 << 20).await.0,
        29,
        "no READ"
    );
    assert_eq!(
        produce(&mut alice, "payroll", 0, one.clone(), -1).await.0,
        29
    );
    assert!(topic_names(&mut bob).await.is_empty());
    assert_eq!(
        produce(&mut bob, "orders-eu", 0, one.clone(), -1).await.0,
        29
    );
    assert_eq!(create_topic(&mut bob, "bobs", 1, &[]).await, 29);

    // A DENY wins over the ALLOW.
    let mut deny = acl("orders-eu", 3, "User:alice", 4);
    deny.permission_type = 2;
    let mut req = CreateAclsRequest::default();
    req.creations.push(deny);
    assert_eq!(admin.call(req, 3).await.results[0].error_code, 0);
    assert_eq!(
        produce(&mut alice, "orders-eu", 0, one.clone(), -1).await.0,
        29
    );

    let described = admin.call(everything(), 3).await;
    assert_eq!(described.error_code, 0);
    assert_eq!(described.resources.len(), 2);
    assert_eq!(bob.call(everything(), 3).await.error_code, 31);
    b.shutdown().await;

    // Durable: the same answers after a restart; deleting the DENY restores the ALLOW.
    let b = start_in(dir.path(), PROPS, FsyncPolicy::Never).await;
    let addr = b.local_addr();
    let mut alice = login_plain(addr, "alice").await;
    assert_eq!(
        produce(&mut alice, "orders-eu", 0, one.clone(), -1).await.0,
        29
    );
    let mut admin = login_plain(addr, "admin").await;
    let mut f = delete_acls_request::DeleteAclsFilter::default();
    f.resource_type_filter = 2;
    f.resource_name_filter = Some(s("orders-eu"));
    f.pattern_type_filter = 3;
    f.principal_filter = None;
    f.host_filter = None;
    f.operation = 1;
    f.permission_type = 2;
    let mut req = DeleteAclsRequest::default();
    req.filters.push(f);
    let r = admin.call(req, 3).await;
    assert_eq!(r.filter_results[0].matching_acls.len(), 1);
    assert_eq!(produce(&mut alice, "orders-eu", 0, one, -1).await.0, 0);
    b.shutdown().await;
}

#[tokio::test]
async fn without_an_authorizer_acl_apis_say_security_disabled() {
    let b = start().await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    let mut req = CreateAclsRequest::default();
    req.creations.push(acl("t", 3, "User:alice", 4));
    assert_eq!(c.call(req, 3).await.results[0].error_code, 54);
    assert_eq!(c.call(everything(), 3).await.error_code, 54);
    // And every request is served, as in Kafka.
    assert_eq!(create_topic(&mut c, "t", 1, &[]).await, 0);
}

/// Reassignments and elections are cluster operations, as in Kafka: AlterPartitionReassignments
/// and ElectLeaders need ALTER on the cluster, ListPartitionReassignments and DescribeLogDirs
/// DESCRIBE; without them the answer is CLUSTER_AUTHORIZATION_FAILED (31).
#[tokio::test]
async fn reassignments_elections_and_log_dirs_need_cluster_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let b = start_in(dir.path(), PROPS, FsyncPolicy::Never).await;
    let addr = b.local_addr();
    let mut admin = login_plain(addr, "admin").await;
    assert_eq!(create_topic(&mut admin, "moved", 1, &[]).await, 0);
    let mut alice = login_plain(addr, "alice").await;

    let mut p = alter_partition_reassignments_request::ReassignablePartition::default();
    p.replicas = Some(vec![BrokerId(1)]);
    let mut t = alter_partition_reassignments_request::ReassignableTopic::default();
    t.name = topic("moved");
    t.partitions.push(p);
    let mut alter = AlterPartitionReassignmentsRequest::default();
    alter.topics.push(t);
    assert_eq!(alice.call(alter.clone(), 0).await.error_code, 31);
    let r = admin.call(alter, 0).await;
    assert_eq!(
        (r.error_code, r.responses[0].partitions[0].error_code),
        (0, 0)
    );

    let list = ListPartitionReassignmentsRequest::default();
    assert_eq!(alice.call(list.clone(), 0).await.error_code, 31);
    assert_eq!(admin.call(list, 0).await.error_code, 0);

    let mut tp = elect_leaders_request::TopicPartitions::default();
    tp.topic = topic("moved");
    tp.partitions = vec![0];
    let mut elect = ElectLeadersRequest::default();
    elect.topic_partitions = Some(vec![tp]);
    let r = alice.call(elect.clone(), 2).await;
    assert_eq!(r.error_code, 31);
    assert_eq!(
        r.replica_election_results[0].partition_result[0].error_code,
        31
    );
    let r = admin.call(elect, 2).await;
    assert_eq!(
        r.replica_election_results[0].partition_result[0].error_code,
        84
    );

    let mut dirs = DescribeLogDirsRequest::default();
    dirs.topics = None; // every topic (an empty list asks for none)
    assert_eq!(alice.call(dirs.clone(), 4).await.error_code, 31);
    let r = admin.call(dirs, 4).await;
    assert_eq!(r.error_code, 0);
    let names: Vec<String> = r.results[0]
        .topics
        .iter()
        .map(|t| t.name.0.to_string())
        .collect();
    assert!(names.contains(&"moved".to_string()), "{names:?}");
}
