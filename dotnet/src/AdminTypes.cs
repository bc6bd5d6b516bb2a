// The values of the admin client's config, group, cluster, ACL and SCRAM calls, shaped like
// Confluent.Kafka's so that code written against IAdminClient reads the same.
using System;
using System.Collections.Generic;

namespace Odradek
{
    /// <summary>What a config or an ACL applies to (Kafka's codes; an ACL on the cluster is
    /// <see cref="Broker"/>).</summary>
    public enum ResourceType
    {
        Any = 1,
        Topic = 2,
        Group = 3,
        Broker = 4,
        TransactionalId = 5,
    }

    /// <summary>A topic or a broker (named by its node id) whose configs are described or altered.</summary>
    public sealed class ConfigResource : IEquatable<ConfigResource>
    {
        public ResourceType Type { get; set; }
        public string Name { get; set; }

        public bool Equals(ConfigResource other) { return other != null && Type == other.Type && Name == other.Name; }
        public override bool Equals(object obj) { return Equals(obj as ConfigResource); }
        public override int GetHashCode() { return (int)Type * 31 + (Name == null ? 0 : Name.GetHashCode()); }
        public override string ToString() { return Type + ":" + Name; }
    }

    /// <summary>A config to set; a null <see cref="Value"/> reverts it to its default.</summary>
    public sealed class ConfigEntry
    {
        public string Name { get; set; }
        public string Value { get; set; }
    }

    /// <summary>One config as the broker describes it.</summary>
    public sealed class ConfigEntryResult
    {
        public string Name { get; internal set; }
        /// <summary>Null when sensitive or unset.</summary>
        public string Value { get; internal set; }
        public bool IsReadOnly { get; internal set; }
        public bool IsDefault { get; internal set; }
        public bool IsSensitive { get; internal set; }
    }

    /// <summary>The configs of one resource, by name.</summary>
    public sealed class DescribeConfigsResult
    {
        public ConfigResource ConfigResource { get; internal set; }
        public Dictionary<string, ConfigEntryResult> Entries { get; internal set; }
    }

    /// <summary>A group as the brokers list it.</summary>
    public sealed class ConsumerGroupListing
    {
        public string GroupId { get; internal set; }
        /// <summary><c>consumer</c>; empty for a group with committed offsets only.</summary>
        public string ProtocolType { get; internal set; }
        /// <summary><c>Stable</c>, <c>PreparingRebalance</c>, <c>Empty</c>, <c>Dead</c>, ...</summary>
        public string State { get; internal set; }
        /// <summary><c>classic</c> or <c>consumer</c> (KIP-848).</summary>
        public string GroupType { get; internal set; }
    }

    /// <summary>A member of a described group.</summary>
    public sealed class MemberDescription
    {
        public string MemberId { get; internal set; }
        /// <summary><c>group.instance.id</c> of a static member; null for a dynamic one.</summary>
        public string GroupInstanceId { get; internal set; }
        public string ClientId { get; internal set; }
        public string Host { get; internal set; }
        /// <summary>KIP-848 member epoch; -1 for classic members.</summary>
        public int MemberEpoch { get; internal set; }
        public List<TopicPartition> Assignment { get; internal set; }
    }

    /// <summary>A described group; one that does not exist has state <c>Dead</c>.</summary>
    public sealed class ConsumerGroupDescription
    {
        public string GroupId { get; internal set; }
        public string GroupType { get; internal set; }
        public string State { get; internal set; }
        /// <summary>Classic: the chosen assignor; consumer: the server-side assignor.</summary>
        public string PartitionAssignor { get; internal set; }
        public int Epoch { get; internal set; }
        public List<MemberDescription> Members { get; internal set; }
    }

    /// <summary>The lag of a group on one partition.</summary>
    public sealed class ConsumerGroupLag
    {
        public string Topic { get; internal set; }
        public int Partition { get; internal set; }
        /// <summary><see cref="Offset.Unset"/> when nothing is committed.</summary>
        public Offset Committed { get; internal set; }
        /// <summary>The last stable offset: what a read_committed consumer can reach.</summary>
        public long LogEndOffset { get; internal set; }
        public long Lag { get; internal set; }
    }

    /// <summary>A broker of the cluster.</summary>
    public sealed class Node
    {
        public int Id { get; internal set; }
        public string Host { get; internal set; }
        public int Port { get; internal set; }
        /// <summary>Null when <c>broker.rack</c> is not set.</summary>
        public string Rack { get; internal set; }
    }

    /// <summary>The cluster as DescribeCluster reports it.</summary>
    public sealed class DescribeClusterResult
    {
        public string ClusterId { get; internal set; }
        /// <summary>The controller; null when not known.</summary>
        public Node Controller { get; internal set; }
        public List<Node> Nodes { get; internal set; }
    }

    /// <summary>How an ACL's resource name matches (Kafka's codes); Any and Match only in filters.</summary>
    public enum ResourcePatternType
    {
        Any = 1,
        Match = 2,
        Literal = 3,
        Prefixed = 4,
    }

    /// <summary>The operation an ACL allows or denies (Kafka's codes); Any only in filters.</summary>
    public enum AclOperation
    {
        Any = 1,
        All = 2,
        Read = 3,
        Write = 4,
        Create = 5,
        Delete = 6,
        Alter = 7,
        Describe = 8,
        ClusterAction = 9,
        DescribeConfigs = 10,
        AlterConfigs = 11,
        IdempotentWrite = 12,
    }

    /// <summary>Allow or deny (Kafka's codes); Any only in filters.</summary>
    public enum AclPermissionType
    {
        Any = 1,
        Deny = 2,
        Allow = 3,
    }

    /// <summary>An ACL: <see cref="Principal"/> (<c>User:alice</c>, <c>User:*</c>) from
    /// <see cref="Host"/> (<c>*</c>: any) may or may not do <see cref="Operation"/> on the resource
    /// (the cluster's name is <c>kafka-cluster</c>).</summary>
    public class AclBinding : IEquatable<AclBinding>
    {
        public ResourceType Type { get; set; }
        public string Name { get; set; }
        public ResourcePatternType ResourcePatternType { get; set; }
        public string Principal { get; set; }
        public string Host { get; set; }
        public AclOperation Operation { get; set; }
        public AclPermissionType PermissionType { get; set; }

        public bool Equals(AclBinding other)
        {
            return other != null && Type == other.Type && Name == other.Name && ResourcePatternType == other.ResourcePatternType
                && Principal == other.Principal && Host == other.Host && Operation == other.Operation && PermissionType == other.PermissionType;
        }

        public override bool Equals(object obj) { return Equals(obj as AclBinding); }
        public override int GetHashCode() { return ((Name ?? "").GetHashCode() * 31 + (Principal ?? "").GetHashCode()) * 31 + (int)Operation; }

        public override string ToString()
        {
            return PermissionType + " " + Principal + "@" + Host + " " + Operation + " " + Type + ":" + ResourcePatternType + ":" + Name;
        }
    }

    /// <summary>Selects ACLs: a null name, principal or host matches any, and the Any codes (and
    /// <see cref="Odradek.ResourcePatternType.Match"/>) any value.</summary>
    public sealed class AclBindingFilter : AclBinding
    {
    }

    /// <summary>A SCRAM mechanism (Kafka's codes).</summary>
    public enum ScramMechanism
    {
        ScramSha256 = 1,
        ScramSha512 = 2,
    }

    /// <summary>A SCRAM credential's mechanism and iteration count (never its password).</summary>
    public sealed class ScramCredentialInfo
    {
        public ScramMechanism Mechanism { get; set; }
        public int Iterations { get; set; }
    }

    /// <summary>The SCRAM credentials of one user.</summary>
    public sealed class UserScramCredentialsDescription
    {
        public string User { get; internal set; }
        public List<ScramCredentialInfo> ScramCredentialInfos { get; internal set; }
    }

    /// <summary>A change to a user's SCRAM credentials: <see cref="UserScramCredentialUpsertion"/>
    /// or <see cref="UserScramCredentialDeletion"/>.</summary>
    public abstract class UserScramCredentialAlteration
    {
        public string User { get; set; }
    }

    /// <summary>Sets a user's SCRAM password, salted and iterated in this process (iterations in
    /// 4096..16384; 0 means 8192): the password never reaches the broker, and ToString leaves it out.</summary>
    public sealed class UserScramCredentialUpsertion : UserScramCredentialAlteration
    {
        public ScramCredentialInfo ScramCredentialInfo { get; set; }
        public string Password { get; set; }

        public override string ToString()
        {
            var info = ScramCredentialInfo;
            return "UserScramCredentialUpsertion { User = " + User + ", Mechanism = " + (info == null ? "?" : info.Mechanism.ToString())
                + ", Iterations = " + (info == null ? 0 : info.Iterations) + ", Password = [redacted] }";
        }
    }

    /// <summary>Deletes a user's SCRAM credential for one mechanism.</summary>
    public sealed class UserScramCredentialDeletion : UserScramCredentialAlteration
    {
        public ScramMechanism Mechanism { get; set; }
    }

    /// <summary>A topic, a partition and a timestamp (ms since the Unix epoch), as asked of
    /// <see cref="Consumer.OffsetsForTimes"/>.</summary>
    public struct TopicPartitionTimestamp
    {
        public TopicPartitionTimestamp(string topic, int partition, long timestampMs) : this()
        {
            if (topic == null) throw new ArgumentNullException("topic");
            Topic = topic;
            Partition = partition;
            TimestampMs = timestampMs;
        }

        public string Topic { get; private set; }
        public int Partition { get; private set; }
        public long TimestampMs { get; private set; }
    }
}
