// P/Invoke declarations of the C ABI's config, group, cluster, record, ACL and SCRAM admin and
// the consumer's offsets_for_times (bindings/c/src/admin_*.rs, consumer_times.rs), with the
// structs they return. Layouts mirror the header (sequential, C alignment; bool is byte).
using System;
using System.Runtime.InteropServices;

namespace Odradek.Native
{
    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekConfigDescription
    {
        public IntPtr Name;
        public IntPtr Value;
        public byte ReadOnly;
        public byte IsDefault;
        public byte IsSensitive;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekGroupListing
    {
        public IntPtr GroupId;
        public IntPtr ProtocolType;
        public IntPtr State;
        public IntPtr GroupType;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekGroupMember
    {
        public IntPtr MemberId;
        public IntPtr InstanceId;
        public IntPtr ClientId;
        public IntPtr Host;
        public int MemberEpoch;
        public IntPtr Assignment;
        public UIntPtr AssignmentCount;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekGroupDescription
    {
        public IntPtr GroupId;
        public IntPtr GroupType;
        public IntPtr State;
        public IntPtr Assignor;
        public int Epoch;
        public IntPtr Members;
        public UIntPtr MemberCount;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekPartitionLag
    {
        public IntPtr Topic;
        public int Partition;
        public long Committed;
        public long LogEnd;
        public long Lag;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekBrokerInfo
    {
        public int Id;
        public IntPtr Host;
        public int Port;
        public IntPtr Rack;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekClusterDescription
    {
        public IntPtr ClusterId;
        public int ControllerId;
        public IntPtr Brokers;
        public UIntPtr BrokerCount;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekAclBinding
    {
        public sbyte ResourceType;
        public IntPtr ResourceName;
        public sbyte PatternType;
        public IntPtr Principal;
        public IntPtr Host;
        public sbyte Operation;
        public sbyte Permission;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct OdradekScramCredential
    {
        public IntPtr User;
        public sbyte Mechanism;
        public int Iterations;
    }

    internal static class AdminLib
    {
        private const string Dll = "odradek_ffi";

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_admin_describe_configs(AdminHandle admin, sbyte resourceType, IntPtr resourceName, IntPtr* keys, UIntPtr keyCount, int timeoutMs, IntPtr cancel, out IntPtr list, out UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_config_descriptions_free(IntPtr list, UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_admin_alter_configs(AdminHandle admin, sbyte resourceType, IntPtr resourceName, OdradekConfigEntry* changes, UIntPtr count, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_admin_list_groups(AdminHandle admin, int timeoutMs, IntPtr cancel, out IntPtr list, out UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_group_listings_free(IntPtr list, UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_admin_describe_groups(AdminHandle admin, IntPtr* groups, UIntPtr groupCount, int timeoutMs, IntPtr cancel, out IntPtr list, out UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_group_descriptions_free(IntPtr list, UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_admin_list_group_offsets(AdminHandle admin, IntPtr group, int timeoutMs, IntPtr cancel, out IntPtr list, out UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_admin_alter_group_offsets(AdminHandle admin, IntPtr group, OdradekTopicPartition* offsets, UIntPtr count, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_admin_delete_group_offsets(AdminHandle admin, IntPtr group, OdradekTopicPartition* partitions, UIntPtr count, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_admin_delete_groups(AdminHandle admin, IntPtr* groups, UIntPtr count, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_admin_group_lag(AdminHandle admin, IntPtr group, IntPtr* topics, UIntPtr topicCount, int timeoutMs, IntPtr cancel, out IntPtr list, out UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_partition_lags_free(IntPtr list, UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_admin_describe_cluster(AdminHandle admin, int timeoutMs, IntPtr cancel, out IntPtr description);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_cluster_description_free(IntPtr description);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_admin_delete_records(AdminHandle admin, OdradekTopicPartition* partitions, UIntPtr count, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_admin_create_acls(AdminHandle admin, OdradekAclBinding* acls, UIntPtr count, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_admin_describe_acls(AdminHandle admin, OdradekAclBinding* filter, int timeoutMs, IntPtr cancel, out IntPtr list, out UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_admin_delete_acls(AdminHandle admin, OdradekAclBinding* filters, UIntPtr filterCount, int timeoutMs, IntPtr cancel, out IntPtr list, out UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_acl_bindings_free(IntPtr list, UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_admin_upsert_scram_credential(AdminHandle admin, IntPtr user, sbyte mechanism, IntPtr password, uint iterations, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr odradek_admin_delete_scram_credential(AdminHandle admin, IntPtr user, sbyte mechanism, int timeoutMs, IntPtr cancel);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_admin_describe_scram_credentials(AdminHandle admin, IntPtr* users, UIntPtr userCount, int timeoutMs, IntPtr cancel, out IntPtr list, out UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern void odradek_scram_credentials_free(IntPtr list, UIntPtr count);

        [DllImport(Dll, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe IntPtr odradek_consumer_offsets_for_times(ConsumerHandle consumer, OdradekTopicPartition* partitions, UIntPtr count, int timeoutMs, IntPtr cancel);
    }
}
