// The consumer's offsets by timestamp (librdkafka's offsets_for_times).
using System;
using System.Collections.Generic;
using Odradek.Native;

namespace Odradek
{
    public sealed partial class Consumer
    {
        /// <summary>For each partition, the first offset whose record timestamp is at or after the
        /// given one; <see cref="Offset.End"/> when no record is that recent.</summary>
        public List<TopicPartitionOffset> OffsetsForTimes(IEnumerable<TopicPartitionTimestamp> timestampsToSearch, TimeSpan timeout)
        {
            if (timestampsToSearch == null) throw new ArgumentNullException("timestampsToSearch");
            var list = new List<TopicPartitionOffset>();
            foreach (var t in timestampsToSearch) list.Add(new TopicPartitionOffset(t.Topic, t.Partition, t.TimestampMs));
            var result = new List<TopicPartitionOffset>();
            unsafe
            {
                using (var arena = new Arena())
                {
                    OdradekTopicPartition* p = arena.Partitions(list);
                    Interop.Check(AdminLib.odradek_consumer_offsets_for_times(_handle, p, (UIntPtr)list.Count, Interop.TimeoutMs(timeout), IntPtr.Zero));
                    for (int i = 0; i < list.Count; i++) result.Add(new TopicPartitionOffset(list[i].TopicPartition, p[i].Offset));
                }
            }
            return result;
        }
    }
}
