// OAUTHBEARER token providers: a .NET delegate behind the C ABI's token callback. One static
// trampoline serves every client; each client's provider travels as a GCHandle context that its
// SafeHandle frees after the native client (the library calls no callback after that).
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using Odradek.Native;

namespace Odradek
{
    /// <summary>An OAUTHBEARER token: the bearer token (a compact JWT), when it expires, the
    /// principal it names and SASL extensions to send with it.</summary>
    public sealed class OAuthBearerToken
    {
        /// <summary>The token; never logged or shown by <see cref="ToString"/>.</summary>
        public string Value { get; set; }
        /// <summary>When the token expires; the client asks for a new one before then.</summary>
        public DateTimeOffset Expiry { get; set; }
        /// <summary>The principal the token names.</summary>
        public string Principal { get; set; }
        /// <summary>SASL extensions (RFC 7628: keys are letters only).</summary>
        public IDictionary<string, string> Extensions { get; set; }

        /// <summary>The principal and expiry, never the token.</summary>
        public override string ToString()
        {
            return "OAuthBearerToken(principal=" + Principal + ", expiry=" + Expiry.ToString("o") + ")";
        }
    }

    /// <summary>
    /// Supplies OAUTHBEARER tokens (<c>sasl.mechanism=OAUTHBEARER</c>): called with the client's
    /// <c>sasl.oauthbearer.config</c> for the first login and again before each token expires, on a
    /// library thread (blocking is allowed). An exception fails the login with
    /// <c>_AUTHENTICATION</c> carrying its message (which must hold no secret).
    /// </summary>
    public delegate OAuthBearerToken OAuthBearerTokenProvider(string oauthbearerConfig);
}

namespace Odradek.Native
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void TokenCallback(IntPtr context, IntPtr oauthbearerConfig, IntPtr result);

    internal static class TokenProviders
    {
        // Alive as long as the AppDomain: any client may call it until it is freed.
        internal static readonly TokenCallback Trampoline = OnToken;

        /// <summary>The trampoline for a client with a provider, else null (no callback).</summary>
        internal static TokenCallback CallbackFor(OAuthBearerTokenProvider provider)
        {
            return provider == null ? null : Trampoline;
        }

        /// <summary>A GCHandle (as IntPtr) keeping the provider alive; Zero for none.</summary>
        internal static IntPtr Context(OAuthBearerTokenProvider provider)
        {
            return provider == null ? IntPtr.Zero : GCHandle.ToIntPtr(GCHandle.Alloc(provider));
        }

        internal static void Free(ref IntPtr context)
        {
            if (context == IntPtr.Zero) return;
            GCHandle.FromIntPtr(context).Free();
            context = IntPtr.Zero;
        }

        private static void OnToken(IntPtr context, IntPtr config, IntPtr result)
        {
            NativeThread.MarkBackground();
            string failure;
            try
            {
                var provider = (OAuthBearerTokenProvider)GCHandle.FromIntPtr(context).Target;
                OAuthBearerToken token = provider(Interop.PtrToString(config) ?? "");
                if (token == null || token.Value == null) throw new InvalidOperationException("the token provider returned no token");
                using (var arena = new Arena())
                {
                    Interop.Check(Lib.odradek_token_set(result, arena.Utf8Z(token.Value), token.Expiry.ToUnixTimeMilliseconds(),
                        token.Principal == null ? IntPtr.Zero : arena.Utf8Z(token.Principal)));
                    if (token.Extensions != null)
                    {
                        foreach (var kv in token.Extensions)
                        {
                            Interop.Check(Lib.odradek_token_add_extension(result, arena.Utf8Z(kv.Key), arena.Utf8Z(kv.Value ?? "")));
                        }
                    }
                }
                return;
            }
            catch (Exception e)
            {
                // An exception must not unwind into the library's thread.
                failure = e.Message;
            }
            using (var arena = new Arena())
            {
                Lib.odradek_error_free(Lib.odradek_token_fail(result, arena.Utf8Z(failure ?? "the token provider failed")));
            }
        }
    }
}
