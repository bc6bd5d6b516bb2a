// Consumer groups: list, describe, committed offsets (list, alter, delete), delete, lag.
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Odradek.Native;

namespace Odradek
{
    public sealed partial class AdminClient
    {
        /// <summary>Every group of every broker, sorted by id.</summary>
        public Task<List<ConsumerGroupListing>> ListConsumerGroupsAsync(TimeSpan? timeout = null,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            return ListAsync((int t, IntPtr c, out IntPtr list, out UIntPtr n) => AdminLib.odradek_admin_list_groups(_handle, t, c, out list, out n),
                ReadListing, AdminLib.odradek_group_listings_free, timeout, cancellationToken);
        }

        private static unsafe ConsumerGroupListing ReadListing(IntPtr array, int i)
        {
            var g = ((OdradekGroupListing*)array)[i];
            return new ConsumerGroupListing
            {
                GroupId = Interop.PtrToString(g.GroupId),
                ProtocolType = Interop.PtrToString(g.ProtocolType),
                State = Interop.PtrToString(g.State),
                GroupType = Interop.PtrToString(g.GroupType),
            };
        }

        /// <summary>Describes groups, one result per id in order; a group that does not exist has
        /// state <c>Dead</c> and no members.</summary>
        public Task<List<ConsumerGroupDescription>> DescribeConsumerGroupsAsync(IEnumerable<string> groups, TimeSpan? timeout = null,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            var names = Copy(groups, "groups");
            return ListAsync((int t, IntPtr c, out IntPtr list, out UIntPtr n) =>
            {
                using (var arena = new Arena())
                    unsafe { return AdminLib.odradek_admin_describe_groups(_handle, Strings(arena, names, "groups"), (UIntPtr)names.Count, t, c, out list, out n); }
            }, ReadDescription, AdminLib.odradek_group_descriptions_free, timeout, cancellationToken);
        }

        private static unsafe ConsumerGroupDescription ReadDescription(IntPtr array, int i)
        {
            var g = ((OdradekGroupDescription*)array)[i];
            var d = new ConsumerGroupDescription
            {
                GroupId = Interop.PtrToString(g.GroupId),
                GroupType = Interop.PtrToString(g.GroupType),
                State = Interop.PtrToString(g.State),
                PartitionAssignor = Interop.PtrToString(g.Assignor),
                Epoch = g.Epoch,
                Members = new List<MemberDescription>(),
            };
            var members = (OdradekGroupMember*)g.Members;
            for (int m = 0; m < (int)g.MemberCount.ToUInt64(); m++)
            {
                var assignment = new List<TopicPartition>();
                foreach (var tpo in ReadPartitions(members[m].Assignment, (int)members[m].AssignmentCount.ToUInt64())) assignment.Add(tpo.TopicPartition);
                d.Members.Add(new MemberDescription
                {
                    MemberId = Interop.PtrToString(members[m].MemberId),
                    GroupInstanceId = Interop.PtrToString(members[m].InstanceId),
                    ClientId = Interop.PtrToString(members[m].ClientId),
                    Host = Interop.PtrToString(members[m].Host),
                    MemberEpoch = members[m].MemberEpoch,
                    Assignment = assignment,
                });
            }
            return d;
        }

        /// <summary>Every committed offset of <paramref name="group"/>.</summary>
        public Task<List<TopicPartitionOffset>> ListConsumerGroupOffsetsAsync(string group, TimeSpan? timeout = null,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            if (group == null) throw new ArgumentNullException("group");
            return ListAsync((int t, IntPtr c, out IntPtr list, out UIntPtr n) =>
            {
                using (var arena = new Arena())
                    return AdminLib.odradek_admin_list_group_offsets(_handle, arena.Utf8Z(group), t, c, out list, out n);
            }, ReadPartition, Lib.odradek_topic_partitions_free, timeout, cancellationToken);
        }

        /// <summary>Sets committed offsets of <paramref name="group"/> (each the next offset to read).
        /// The group must have no members.</summary>
        public Task AlterConsumerGroupOffsetsAsync(string group, IEnumerable<TopicPartitionOffset> offsets, TimeSpan? timeout = null,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            if (group == null) throw new ArgumentNullException("group");
            var list = Copy(offsets, "offsets");
            return RunAsync((t, c) =>
            {
                using (var arena = new Arena())
                    unsafe { return AdminLib.odradek_admin_alter_group_offsets(_handle, arena.Utf8Z(group), arena.Partitions(list), (UIntPtr)list.Count, t, c); }
            }, timeout, cancellationToken);
        }

        /// <summary>Deletes committed offsets of <paramref name="group"/> for these partitions; refused
        /// for topics the group is consuming.</summary>
        public Task DeleteConsumerGroupOffsetsAsync(string group, IEnumerable<TopicPartition> partitions, TimeSpan? timeout = null,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            if (group == null) throw new ArgumentNullException("group");
            var list = new List<TopicPartitionOffset>();
            foreach (var tp in Copy(partitions, "partitions")) list.Add(new TopicPartitionOffset(tp, Offset.Unset));
            return RunAsync((t, c) =>
            {
                using (var arena = new Arena())
                    unsafe { return AdminLib.odradek_admin_delete_group_offsets(_handle, arena.Utf8Z(group), arena.Partitions(list), (UIntPtr)list.Count, t, c); }
            }, timeout, cancellationToken);
        }

        /// <summary>Deletes groups (each must have no members); throws the first group's error.</summary>
        public Task DeleteGroupsAsync(IEnumerable<string> groups, TimeSpan? timeout = null,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            var names = Copy(groups, "groups");
            return RunAsync((t, c) =>
            {
                using (var arena = new Arena())
                    unsafe { return AdminLib.odradek_admin_delete_groups(_handle, Strings(arena, names, "groups"), (UIntPtr)names.Count, t, c); }
            }, timeout, cancellationToken);
        }

        /// <summary>The lag of <paramref name="group"/> on every partition it has committed offsets for,
        /// plus every partition of <paramref name="topics"/> (may be null), sorted.</summary>
        public Task<List<ConsumerGroupLag>> ListConsumerGroupLagAsync(string group, IEnumerable<string> topics = null, TimeSpan? timeout = null,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            if (group == null) throw new ArgumentNullException("group");
            var names = topics == null ? new List<string>() : new List<string>(topics);
            return ListAsync((int t, IntPtr c, out IntPtr list, out UIntPtr n) =>
            {
                using (var arena = new Arena())
                    unsafe { return AdminLib.odradek_admin_group_lag(_handle, arena.Utf8Z(group), Strings(arena, names, "topics"), (UIntPtr)names.Count, t, c, out list, out n); }
            }, ReadLag, AdminLib.odradek_partition_lags_free, timeout, cancellationToken);
        }

        private static unsafe ConsumerGroupLag ReadLag(IntPtr array, int i)
        {
            var l = ((OdradekPartitionLag*)array)[i];
            return new ConsumerGroupLag
            {
                Topic = Interop.PtrToString(l.Topic),
                Partition = l.Partition,
                Committed = new Offset(l.Committed),
                LogEndOffset = l.LogEnd,
                Lag = l.Lag,
            };
        }
    }
}
