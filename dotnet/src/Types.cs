using System;
using System.Collections;
using System.Collections.Generic;
using System.Text;

namespace Odradek
{
    /// <summary>A topic and a partition.</summary>
    public struct TopicPartition : IEquatable<TopicPartition>
    {
        public TopicPartition(string topic, int partition)
        {
            if (topic == null) throw new ArgumentNullException("topic");
            Topic = topic;
            Partition = partition;
        }

        public string Topic { get; private set; }
        public int Partition { get; private set; }

        public bool Equals(TopicPartition other) { return Topic == other.Topic && Partition == other.Partition; }
        public override bool Equals(object obj) { return obj is TopicPartition && Equals((TopicPartition)obj); }
        public override int GetHashCode() { return (Topic == null ? 0 : Topic.GetHashCode()) * 31 + Partition; }
        public override string ToString() { return Topic + "-" + Partition; }
        public static bool operator ==(TopicPartition a, TopicPartition b) { return a.Equals(b); }
        public static bool operator !=(TopicPartition a, TopicPartition b) { return !a.Equals(b); }
    }

    /// <summary>
    /// An offset, or one of the logical offsets: <see cref="Beginning"/>, <see cref="End"/>,
    /// <see cref="Stored"/> (the group's committed offset, else <c>auto.offset.reset</c>) and
    /// <see cref="Unset"/> (no offset). The numbers are the core's (librdkafka's), as the C ABI header
    /// defines them (ODRADEK_OFFSET_*); RulesTests checks this copy against the header.
    /// </summary>
    public struct Offset : IEquatable<Offset>
    {
        public static readonly Offset Beginning = new Offset(-2);
        public static readonly Offset End = new Offset(-1);
        public static readonly Offset Stored = new Offset(-1000);
        public static readonly Offset Unset = new Offset(-1001);

        public Offset(long value) : this() { Value = value; }

        public long Value { get; private set; }

        /// <summary>True for a real position (≥ 0), false for the logical offsets.</summary>
        public bool IsSpecial { get { return Value < 0; } }

        public bool Equals(Offset other) { return Value == other.Value; }
        public override bool Equals(object obj) { return obj is Offset && Equals((Offset)obj); }
        public override int GetHashCode() { return Value.GetHashCode(); }
        public static bool operator ==(Offset a, Offset b) { return a.Value == b.Value; }
        public static bool operator !=(Offset a, Offset b) { return a.Value != b.Value; }
        public static implicit operator Offset(long value) { return new Offset(value); }
        public static implicit operator long(Offset offset) { return offset.Value; }

        public override string ToString()
        {
            if (this == Beginning) return "Beginning";
            if (this == End) return "End";
            if (this == Stored) return "Stored";
            if (this == Unset) return "Unset";
            return Value.ToString();
        }
    }

    /// <summary>A topic, a partition and an offset.</summary>
    public struct TopicPartitionOffset : IEquatable<TopicPartitionOffset>
    {
        public TopicPartitionOffset(string topic, int partition, Offset offset)
        {
            if (topic == null) throw new ArgumentNullException("topic");
            Topic = topic;
            Partition = partition;
            Offset = offset;
        }

        public TopicPartitionOffset(TopicPartition tp, Offset offset) : this(tp.Topic, tp.Partition, offset) { }

        public string Topic { get; private set; }
        public int Partition { get; private set; }
        public Offset Offset { get; private set; }
        public TopicPartition TopicPartition { get { return new TopicPartition(Topic, Partition); } }

        public bool Equals(TopicPartitionOffset other)
        {
            return Topic == other.Topic && Partition == other.Partition && Offset == other.Offset;
        }

        public override bool Equals(object obj) { return obj is TopicPartitionOffset && Equals((TopicPartitionOffset)obj); }
        public override int GetHashCode() { return TopicPartition.GetHashCode() * 31 + Offset.GetHashCode(); }
        public override string ToString() { return Topic + "-" + Partition + "@" + Offset; }
    }

    /// <summary>One record header: a name and a value (<c>null</c> is a null value, distinct from empty).</summary>
    public sealed class Header
    {
        public Header(string key, byte[] value)
        {
            if (key == null) throw new ArgumentNullException("key");
            Key = key;
            Value = value;
        }

        public string Key { get; private set; }
        public byte[] Value { get; private set; }
    }

    /// <summary>Record headers in order; duplicate names are kept.</summary>
    public sealed class Headers : IReadOnlyList<Header>
    {
        private readonly List<Header> _items = new List<Header>();

        public void Add(string key, byte[] value) { _items.Add(new Header(key, value)); }

        /// <summary>Adds a header whose value is the UTF-8 bytes of <paramref name="value"/> (null stays null).</summary>
        public void Add(string key, string value) { _items.Add(new Header(key, value == null ? null : Encoding.UTF8.GetBytes(value))); }

        public void Add(Header header) { if (header == null) throw new ArgumentNullException("header"); _items.Add(header); }

        public int Count { get { return _items.Count; } }
        public Header this[int index] { get { return _items[index]; } }

        /// <summary>The value of the last header with this name; false when there is none.</summary>
        public bool TryGetLastBytes(string key, out byte[] value)
        {
            for (int i = _items.Count - 1; i >= 0; i--)
            {
                if (_items[i].Key == key) { value = _items[i].Value; return true; }
            }
            value = null;
            return false;
        }

        public IEnumerator<Header> GetEnumerator() { return _items.GetEnumerator(); }
        IEnumerator IEnumerable.GetEnumerator() { return GetEnumerator(); }
    }

    /// <summary>A record to produce. Key and value are bytes; <c>null</c> means absent (a null key,
    /// a tombstone value), an empty array is empty.</summary>
    public sealed class Message
    {
        public byte[] Key { get; set; }
        public byte[] Value { get; set; }
        public Headers Headers { get; set; }

        /// <summary>Milliseconds since the Unix epoch; null lets the producer use the current time.</summary>
        public long? Timestamp { get; set; }

        /// <summary>A message with UTF-8 key and value (null stays null).</summary>
        public static Message FromStrings(string key, string value)
        {
            return new Message
            {
                Key = key == null ? null : Encoding.UTF8.GetBytes(key),
                Value = value == null ? null : Encoding.UTF8.GetBytes(value),
            };
        }
    }

    /// <summary>Where a record was stored.</summary>
    public sealed class DeliveryResult
    {
        internal DeliveryResult(string topic, int partition, long offset, long timestamp)
        {
            Topic = topic;
            Partition = partition;
            Offset = offset;
            Timestamp = timestamp;
        }

        public string Topic { get; private set; }
        public int Partition { get; private set; }
        public long Offset { get; private set; }

        /// <summary>The record's timestamp in milliseconds since the Unix epoch (-1 when unknown).</summary>
        public long Timestamp { get; private set; }

        public TopicPartitionOffset TopicPartitionOffset { get { return new TopicPartitionOffset(Topic, Partition, Offset); } }
        public override string ToString() { return Topic + "-" + Partition + "@" + Offset; }
    }

    /// <summary>A record read by a <see cref="Consumer"/>.</summary>
    public sealed class ConsumeResult
    {
        internal ConsumeResult(string topic, int partition, long offset, long timestamp, byte[] key, byte[] value, Headers headers)
        {
            Topic = topic;
            Partition = partition;
            Offset = offset;
            Timestamp = timestamp;
            Key = key;
            Value = value;
            Headers = headers;
        }

        public string Topic { get; private set; }
        public int Partition { get; private set; }
        public long Offset { get; private set; }
        public long Timestamp { get; private set; }

        /// <summary>The key, or null for a null key.</summary>
        public byte[] Key { get; private set; }

        /// <summary>The value, or null for a tombstone.</summary>
        public byte[] Value { get; private set; }

        public Headers Headers { get; private set; }

        public TopicPartition TopicPartition { get { return new TopicPartition(Topic, Partition); } }
        public TopicPartitionOffset TopicPartitionOffset { get { return new TopicPartitionOffset(Topic, Partition, Offset); } }

        /// <summary>The key decoded as UTF-8 (null stays null).</summary>
        public string KeyString { get { return Key == null ? null : Encoding.UTF8.GetString(Key); } }

        /// <summary>The value decoded as UTF-8 (null stays null).</summary>
        public string ValueString { get { return Value == null ? null : Encoding.UTF8.GetString(Value); } }

        public override string ToString() { return Topic + "-" + Partition + "@" + Offset; }
    }

    /// <summary>What a rebalance did to this consumer's assignment.</summary>
    public enum RebalanceKind
    {
        /// <summary>These partitions were added to the assignment.</summary>
        Assigned,
        /// <summary>These partitions are taken away; commit their offsets now if you commit manually.</summary>
        Revoked,
        /// <summary>These partitions were lost without a clean hand-over (the member was fenced or timed out);
        /// another member may already own them, so committing is pointless.</summary>
        Lost,
    }

    /// <summary>The partitions of one rebalance event.</summary>
    public sealed class RebalanceEventArgs : EventArgs
    {
        internal RebalanceEventArgs(RebalanceKind kind, IReadOnlyList<TopicPartition> partitions)
        {
            Kind = kind;
            Partitions = partitions;
        }

        public RebalanceKind Kind { get; private set; }
        public IReadOnlyList<TopicPartition> Partitions { get; private set; }
    }

    /// <summary>The low (first offset) and high (after the last stable record) watermarks of a
    /// partition.</summary>
    public sealed class WatermarkOffsets
    {
        public WatermarkOffsets(Offset low, Offset high)
        {
            Low = low;
            High = high;
        }

        public Offset Low { get; private set; }
        public Offset High { get; private set; }

        public override string ToString()
        {
            return "[" + Low + ", " + High + ")";
        }
    }
}
