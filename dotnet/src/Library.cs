using Odradek.Native;

namespace Odradek
{
    /// <summary>Facts about the native library in use.</summary>
    public static class Library
    {
        // Finds the native library of a NuGet package before the first native call.
        static Library()
        {
            NativeLoader.Load();
        }

        /// <summary>The version of the native odradek library (libodradek_ffi) this process loaded.</summary>
        public static string Version { get { return Interop.PtrToString(Lib.odradek_version()); } }
    }
}
