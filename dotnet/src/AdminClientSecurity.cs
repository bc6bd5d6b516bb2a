// ACLs (create, describe, delete) and SCRAM users (describe, set, delete).
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using Odradek.Native;

namespace Odradek
{
    public sealed partial class AdminClient
    {
        /// <summary>A native array of ACLs in <paramref name="arena"/>; with <paramref name="filters"/>
        /// a null string stays NULL (any).</summary>
        private static unsafe OdradekAclBinding* Acls(Arena arena, IList<AclBinding> acls, bool filters)
        {
            var a = (OdradekAclBinding*)arena.Alloc(sizeof(OdradekAclBinding) * acls.Count);
            Func<string, string, IntPtr> str = (s, what) =>
            {
                if (s == null && filters) return IntPtr.Zero;
                if (s == null) throw new ArgumentException("an ACL's " + what + " is null");
                return arena.Utf8Z(s);
            };
            for (int i = 0; i < acls.Count; i++)
            {
                var b = acls[i];
                if (b == null) throw new ArgumentException("ACL " + i + " is null");
                a[i].ResourceType = (sbyte)b.Type;
                a[i].ResourceName = str(b.Name, "name");
                a[i].PatternType = (sbyte)b.ResourcePatternType;
                a[i].Principal = str(b.Principal, "principal");
                a[i].Host = str(b.Host, "host");
                a[i].Operation = (sbyte)b.Operation;
                a[i].Permission = (sbyte)b.PermissionType;
            }
            return a;
        }

        private static unsafe AclBinding ReadAcl(IntPtr array, int i)
        {
            var a = ((OdradekAclBinding*)array)[i];
            return new AclBinding
            {
                Type = (ResourceType)a.ResourceType,
                Name = Interop.PtrToString(a.ResourceName),
                ResourcePatternType = (ResourcePatternType)a.PatternType,
                Principal = Interop.PtrToString(a.Principal),
                Host = Interop.PtrToString(a.Host),
                Operation = (AclOperation)a.Operation,
                PermissionType = (AclPermissionType)a.Permission,
            };
        }

        /// <summary>Creates ACLs; throws the first refusal (e.g. <c>CLUSTER_AUTHORIZATION_FAILED</c>).</summary>
        public Task CreateAclsAsync(IEnumerable<AclBinding> aclBindings, TimeSpan? timeout = null,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            var list = Copy(aclBindings, "aclBindings");
            return RunAsync((t, c) =>
            {
                using (var arena = new Arena())
                    unsafe { return AdminLib.odradek_admin_create_acls(_handle, Acls(arena, list, false), (UIntPtr)list.Count, t, c); }
            }, timeout, cancellationToken);
        }

        /// <summary>The ACLs <paramref name="filter"/> matches.</summary>
        public Task<List<AclBinding>> DescribeAclsAsync(AclBindingFilter filter, TimeSpan? timeout = null,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            if (filter == null) throw new ArgumentNullException("filter");
            var list = new List<AclBinding> { filter };
            return ListAsync((int t, IntPtr c, out IntPtr acls, out UIntPtr n) =>
            {
                using (var arena = new Arena())
                    unsafe { return AdminLib.odradek_admin_describe_acls(_handle, Acls(arena, list, true), t, c, out acls, out n); }
            }, ReadAcl, AdminLib.odradek_acl_bindings_free, timeout, cancellationToken);
        }

        /// <summary>Deletes the ACLs the filters match; returns the deleted ones.</summary>
        public Task<List<AclBinding>> DeleteAclsAsync(IEnumerable<AclBindingFilter> filters, TimeSpan? timeout = null,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            var list = new List<AclBinding>(Copy(filters, "filters"));
            return ListAsync((int t, IntPtr c, out IntPtr acls, out UIntPtr n) =>
            {
                using (var arena = new Arena())
                    unsafe { return AdminLib.odradek_admin_delete_acls(_handle, Acls(arena, list, true), (UIntPtr)list.Count, t, c, out acls, out n); }
            }, ReadAcl, AdminLib.odradek_acl_bindings_free, timeout, cancellationToken);
        }

        /// <summary>The SCRAM credentials of <paramref name="users"/> (null or empty: every user), one
        /// description per user.</summary>
        public async Task<List<UserScramCredentialsDescription>> DescribeUserScramCredentialsAsync(IEnumerable<string> users = null,
            TimeSpan? timeout = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            var names = users == null ? new List<string>() : new List<string>(users);
            var flat = await ListAsync((int t, IntPtr c, out IntPtr list, out UIntPtr n) =>
            {
                using (var arena = new Arena())
                    unsafe { return AdminLib.odradek_admin_describe_scram_credentials(_handle, Strings(arena, names, "users"), (UIntPtr)names.Count, t, c, out list, out n); }
            }, ReadCredential, AdminLib.odradek_scram_credentials_free, timeout, cancellationToken).ConfigureAwait(false);
            var byUser = new List<UserScramCredentialsDescription>();
            foreach (var kv in flat)
            {
                if (byUser.Count == 0 || byUser[byUser.Count - 1].User != kv.Key)
                    byUser.Add(new UserScramCredentialsDescription { User = kv.Key, ScramCredentialInfos = new List<ScramCredentialInfo>() });
                byUser[byUser.Count - 1].ScramCredentialInfos.Add(kv.Value);
            }
            return byUser;
        }

        private static unsafe KeyValuePair<string, ScramCredentialInfo> ReadCredential(IntPtr array, int i)
        {
            var c = ((OdradekScramCredential*)array)[i];
            return new KeyValuePair<string, ScramCredentialInfo>(Interop.PtrToString(c.User),
                new ScramCredentialInfo { Mechanism = (ScramMechanism)c.Mechanism, Iterations = c.Iterations });
        }

        /// <summary>Sets and deletes SCRAM credentials in order; stops at the first failure.</summary>
        public async Task AlterUserScramCredentialsAsync(IEnumerable<UserScramCredentialAlteration> alterations, TimeSpan? timeout = null,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            foreach (var a in Copy(alterations, "alterations"))
            {
                if (a == null || a.User == null) throw new ArgumentException("a SCRAM alteration has no user");
                var deletion = a as UserScramCredentialDeletion;
                if (deletion != null)
                {
                    await RunAsync((t, c) =>
                    {
                        using (var arena = new Arena())
                            return AdminLib.odradek_admin_delete_scram_credential(_handle, arena.Utf8Z(a.User), (sbyte)deletion.Mechanism, t, c);
                    }, timeout, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                var upsertion = (UserScramCredentialUpsertion)a;
                if (upsertion.Password == null || upsertion.ScramCredentialInfo == null)
                    throw new ArgumentException("the SCRAM upsertion for " + a.User + " needs a password and a ScramCredentialInfo");
                int iterations = upsertion.ScramCredentialInfo.Iterations == 0 ? 8192 : upsertion.ScramCredentialInfo.Iterations;
                await RunAsync((t, c) => Upsert(upsertion, (uint)iterations, t, c), timeout, cancellationToken).ConfigureAwait(false);
            }
        }

        private IntPtr Upsert(UserScramCredentialUpsertion u, uint iterations, int timeoutMs, IntPtr cancel)
        {
            byte[] password = Interop.Utf8Z(u.Password);
            IntPtr p = Marshal.AllocHGlobal(password.Length);
            try
            {
                Marshal.Copy(password, 0, p, password.Length);
                using (var arena = new Arena())
                    return AdminLib.odradek_admin_upsert_scram_credential(_handle, arena.Utf8Z(u.User), (sbyte)u.ScramCredentialInfo.Mechanism, p, iterations, timeoutMs, cancel);
            }
            finally
            {
                // The password's native copy is wiped before its memory is released.
                Marshal.Copy(new byte[password.Length], 0, p, password.Length);
                Marshal.FreeHGlobal(p);
                Array.Clear(password, 0, password.Length);
            }
        }
    }
}
