// Finds libodradek_ffi where the NuGet package puts it. A .NET (Core) application resolves
// runtimes/<rid>/native/ of a package by itself (deps.json); Mono and .NET Framework load
// Odradek.dll from the package's lib/netstandard2.0/ (or a copy next to the application) and
// look for native libraries only beside it and on the loader path. So, before the first native
// call: if the library is not beside this assembly, load it from ../../runtimes/<rid>/native/.
// The library's SONAME (libodradek_ffi.so, set by bindings/c/build.rs) makes the DllImports
// resolve to that loaded copy.
using System;
using System.IO;
using System.Runtime.InteropServices;

namespace Odradek.Native
{
    internal static class NativeLoader
    {
        private const string LinuxName = "libodradek_ffi.so";
        private const int RtldNow = 2;
        private const int RtldGlobal = 0x100;

        [DllImport("libdl.so.2", EntryPoint = "dlopen")]
        private static extern IntPtr DlOpen(string path, int flags);

        [DllImport("libdl.so.2", EntryPoint = "dlerror")]
        private static extern IntPtr DlError();

        private static readonly object Gate = new object();
        private static bool loaded;

        /// <summary>Loads the package's native library when nothing closer provides it. Called by
        /// the static constructors of the public types that make native calls (Mono runs no type
        /// initialiser before a P/Invoke, so a static constructor on the DllImport class would not
        /// do); idempotent.</summary>
        internal static void Load()
        {
            lock (Gate)
            {
                if (!loaded)
                {
                    loaded = true;
                    LoadFromPackage();
                }
            }
        }

        private static void LoadFromPackage()
        {
            if (Environment.OSVersion.Platform != PlatformID.Unix || !Directory.Exists("/proc"))
            {
                return; // Linux only here; elsewhere the runtime's own probing applies
            }
            string assemblyDir = Path.GetDirectoryName(typeof(NativeLoader).Assembly.Location);
            if (string.IsNullOrEmpty(assemblyDir) || File.Exists(Path.Combine(assemblyDir, LinuxName)))
            {
                return;
            }
            string runtimes = Path.GetFullPath(Path.Combine(assemblyDir, "..", "..", "runtimes"));
            if (!Directory.Exists(runtimes))
            {
                return;
            }
            // glibc packages first; one of another architecture or libc fails to load and is skipped.
            string[] dirs = Directory.GetDirectories(runtimes, "linux-*");
            Array.Sort(dirs, (a, b) => IsMusl(a).CompareTo(IsMusl(b)));
            foreach (string dir in dirs)
            {
                string candidate = Path.Combine(dir, "native", LinuxName);
                if (File.Exists(candidate) && DlOpen(candidate, RtldNow | RtldGlobal) != IntPtr.Zero)
                {
                    return;
                }
                DlError(); // clears the error of the failed attempt
            }
        }

        private static bool IsMusl(string dir)
        {
            return Path.GetFileName(dir).StartsWith("linux-musl", StringComparison.Ordinal);
        }
    }
}
