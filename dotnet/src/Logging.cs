using System;
using Odradek.Native;

namespace Odradek
{
    /// <summary>Severity of a log record, named as Microsoft.Extensions.Logging names them.</summary>
    public enum LogLevel
    {
        /// <summary>Every request the client sends.</summary>
        Trace = 0,
        /// <summary>Protocol decisions, retries.</summary>
        Debug = 1,
        /// <summary>Lifecycle: connections, group membership.</summary>
        Information = 2,
        /// <summary>Needs attention: a broker that cannot be reached, a failed commit.</summary>
        Warning = 3,
        /// <summary>Something failed.</summary>
        Error = 4,
    }

    /// <summary>The native library's log records, forwarded to one handler (process-wide).</summary>
    public static class Logging
    {
        private static readonly object Gate = new object();
        // Held for the life of the process: the native log thread may still call the previous
        // delegate after a new one is set, so none is ever collected.
        private static readonly System.Collections.Generic.List<LogCallback> Alive =
            new System.Collections.Generic.List<LogCallback>();

        /// <summary>
        /// Sends the library's log records at <paramref name="minimum"/> and more severe to
        /// <paramref name="handler"/>(level, target, message): target is the library module that
        /// logged it, message the text with its fields as " key=value". The handler runs on the
        /// library's own log thread; when it falls behind, records are dropped (the next one says
        /// how many) rather than slowing a client. A null handler stops forwarding. An exception
        /// from the handler loses that record only. Call it once, at start-up, e.g. with a
        /// handler that writes to your ILogger.
        /// </summary>
        public static void SetHandler(LogLevel minimum, Action<LogLevel, string, string> handler)
        {
            NativeLoader.Load();
            lock (Gate)
            {
                if (handler == null)
                {
                    Interop.Check(Lib.odradek_set_log_callback(0, null, IntPtr.Zero));
                    return;
                }
                LogCallback callback = (context, level, target, message) =>
                {
                    NativeThread.MarkBackground();
                    try
                    {
                        handler(FromNative(level), Interop.PtrToString(target) ?? "", Interop.PtrToString(message) ?? "");
                    }
                    catch (Exception)
                    {
                        // An exception must not unwind into native code.
                    }
                };
                Alive.Add(callback);
                Interop.Check(Lib.odradek_set_log_callback(ToNative(minimum), callback, IntPtr.Zero));
            }
        }

        private static int ToNative(LogLevel level)
        {
            switch (level)
            {
                case LogLevel.Trace: return 5;
                case LogLevel.Debug: return 4;
                case LogLevel.Information: return 3;
                case LogLevel.Warning: return 2;
                default: return 1;
            }
        }

        private static LogLevel FromNative(int level)
        {
            switch (level)
            {
                case 5: return LogLevel.Trace;
                case 4: return LogLevel.Debug;
                case 3: return LogLevel.Information;
                case 2: return LogLevel.Warning;
                default: return LogLevel.Error;
            }
        }
    }
}
