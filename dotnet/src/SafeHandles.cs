// One SafeHandle per native handle type: the runtime frees the handle exactly once (Dispose or
// finalizer), and never while a P/Invoke call that took the handle is still running.
using System;
using System.Runtime.InteropServices;

namespace Odradek.Native
{
    internal sealed class ProducerHandle : SafeHandle
    {
        public ProducerHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        internal void Adopt(IntPtr raw) { SetHandle(raw); }

        /// <summary>The token provider's GCHandle (as IntPtr), freed after the producer.</summary>
        internal IntPtr TokenContext;

        /// <summary>The error handler, freed after the producer.</summary>
        internal readonly ErrorSlot Errors = new ErrorSlot();

        protected override bool ReleaseHandle()
        {
            Lib.odradek_producer_free(handle);
            TokenProviders.Free(ref TokenContext);
            Errors.Free();
            return true;
        }
    }

    internal sealed class ConsumerHandle : SafeHandle
    {
        public ConsumerHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        internal void Adopt(IntPtr raw) { SetHandle(raw); }

        /// <summary>The GCHandle (as IntPtr) given to the rebalance callback, freed after the consumer.</summary>
        internal IntPtr RebalanceContext;

        /// <summary>The token provider's GCHandle (as IntPtr), freed after the consumer.</summary>
        internal IntPtr TokenContext;

        /// <summary>The error handler, freed after the consumer.</summary>
        internal readonly ErrorSlot Errors = new ErrorSlot();

        protected override bool ReleaseHandle()
        {
            // Freeing closes the consumer: no rebalance callback runs after it returns, so the
            // context can go next.
            Lib.odradek_consumer_free(handle);
            if (RebalanceContext != IntPtr.Zero)
            {
                GCHandle.FromIntPtr(RebalanceContext).Free();
                RebalanceContext = IntPtr.Zero;
            }
            TokenProviders.Free(ref TokenContext);
            Errors.Free();
            return true;
        }
    }

    internal sealed class GroupMetadataHandle : SafeHandle
    {
        public GroupMetadataHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        internal void Adopt(IntPtr raw) { SetHandle(raw); }

        protected override bool ReleaseHandle()
        {
            Lib.odradek_group_metadata_free(handle);
            return true;
        }
    }

    internal sealed class AdminHandle : SafeHandle
    {
        public AdminHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        internal void Adopt(IntPtr raw) { SetHandle(raw); }

        /// <summary>The token provider's GCHandle (as IntPtr), freed after the admin client.</summary>
        internal IntPtr TokenContext;

        protected override bool ReleaseHandle()
        {
            Lib.odradek_admin_free(handle);
            TokenProviders.Free(ref TokenContext);
            return true;
        }
    }

    internal sealed class BrokerHandle : SafeHandle
    {
        public BrokerHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        internal void Adopt(IntPtr raw) { SetHandle(raw); }

        protected override bool ReleaseHandle()
        {
            Lib.odradek_test_broker_stop(handle);
            return true;
        }
    }

    internal sealed class ClusterHandle : SafeHandle
    {
        public ClusterHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        internal void Adopt(IntPtr raw) { SetHandle(raw); }

        protected override bool ReleaseHandle()
        {
            Lib.odradek_test_cluster_stop(handle);
            return true;
        }
    }
}
