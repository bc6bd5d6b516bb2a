// The transactional producer (transactional.id) and the consumer group metadata its
// SendOffsetsToTransaction takes (KIP-447), with Confluent.Kafka's names.
using System;
using System.Collections.Generic;
using Odradek.Native;

namespace Odradek
{
    /// <summary>A consumer's group, generation and member id at the time it was taken
    /// (<see cref="Consumer.ConsumerGroupMetadata"/>): what
    /// <see cref="Producer.SendOffsetsToTransaction"/> needs so that offsets of a member that left
    /// the group are refused.</summary>
    public sealed class ConsumerGroupMetadata : IDisposable
    {
        internal readonly GroupMetadataHandle Handle;

        internal ConsumerGroupMetadata(GroupMetadataHandle handle)
        {
            Handle = handle;
        }

        /// <summary>Frees the native copy (the finalizer does it otherwise).</summary>
        public void Dispose()
        {
            Handle.Dispose();
        }
    }

    public sealed partial class Consumer
    {
        /// <summary>The group metadata for <see cref="Producer.SendOffsetsToTransaction"/>
        /// (<c>group.id</c> required): a new snapshot on every read.</summary>
        public ConsumerGroupMetadata ConsumerGroupMetadata
        {
            get
            {
                IntPtr raw;
                Interop.Check(Lib.odradek_consumer_group_metadata(_handle, out raw));
                var handle = new GroupMetadataHandle();
                handle.Adopt(raw);
                return new ConsumerGroupMetadata(handle);
            }
        }
    }

    public sealed partial class Producer
    {
        /// <summary>Registers <c>transactional.id</c> with its coordinator: an earlier producer with
        /// the same id is fenced and its open transaction aborted. Call once, before the first
        /// transaction.</summary>
        public void InitTransactions(TimeSpan timeout)
        {
            Interop.Check(Lib.odradek_producer_init_transactions(_handle, Interop.TimeoutMs(timeout), IntPtr.Zero));
        }

        /// <summary>Opens a transaction: records produced until commit or abort belong to it.</summary>
        public void BeginTransaction()
        {
            Interop.Check(Lib.odradek_producer_begin_transaction(_handle));
        }

        /// <summary>Adds the consumer's offsets (each the next offset to read) to the open transaction:
        /// they are committed for the consumer's group if, and only if, the transaction commits.</summary>
        public void SendOffsetsToTransaction(IEnumerable<TopicPartitionOffset> offsets, ConsumerGroupMetadata groupMetadata, TimeSpan timeout)
        {
            if (offsets == null) throw new ArgumentNullException("offsets");
            if (groupMetadata == null) throw new ArgumentNullException("groupMetadata");
            var list = new List<TopicPartitionOffset>(offsets);
            unsafe
            {
                using (var arena = new Arena())
                {
                    OdradekTopicPartition* p = arena.Partitions(list);
                    Interop.Check(Lib.odradek_producer_send_offsets_to_transaction(_handle, p, (UIntPtr)list.Count, groupMetadata.Handle, Interop.TimeoutMs(timeout), IntPtr.Zero));
                }
            }
        }

        /// <summary>Delivers every record of the transaction, then commits it. Throws
        /// <see cref="KafkaTxnRequiresAbortException"/> when a record failed (call
        /// <see cref="AbortTransaction(TimeSpan)"/>), a <see cref="KafkaException"/> with
        /// <see cref="KafkaException.IsFatal"/> when the producer was fenced (PRODUCER_FENCED).</summary>
        public void CommitTransaction(TimeSpan timeout)
        {
            Interop.Check(Lib.odradek_producer_commit_transaction(_handle, Interop.TimeoutMs(timeout), IntPtr.Zero));
        }

        /// <summary><see cref="CommitTransaction(TimeSpan)"/> without a time limit.</summary>
        public void CommitTransaction()
        {
            CommitTransaction(System.Threading.Timeout.InfiniteTimeSpan);
        }

        /// <summary>Aborts the open transaction: read_committed consumers never see what it wrote, and
        /// its offsets are not committed.</summary>
        public void AbortTransaction(TimeSpan timeout)
        {
            Interop.Check(Lib.odradek_producer_abort_transaction(_handle, Interop.TimeoutMs(timeout), IntPtr.Zero));
        }

        /// <summary><see cref="AbortTransaction(TimeSpan)"/> without a time limit.</summary>
        public void AbortTransaction()
        {
            AbortTransaction(System.Threading.Timeout.InfiniteTimeSpan);
        }
    }
}
