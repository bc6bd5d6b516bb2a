using System;
using System.Diagnostics;
using System.IO;
using NUnit.Framework;

namespace Odradek.Tests
{
    /// <summary>The examples under examples/dotnet/ build (scripts/test.d/60-dotnet.sh compiles them) and
    /// the self-contained one runs to completion in a fresh Mono process.</summary>
    [TestFixture]
    public class ExampleTests
    {
        [Test]
        public void QuickstartRunsAndExits()
        {
            string dir = Environment.GetEnvironmentVariable("ODRADEK_DOTNET_OUT");
            Assert.IsFalse(string.IsNullOrEmpty(dir), "ODRADEK_DOTNET_OUT is not set (run through scripts/test.d/60-dotnet.sh)");
            string exe = Path.Combine(dir, "Quickstart.exe");
            Assert.IsTrue(File.Exists(exe), exe + " was not built");
            var psi = new ProcessStartInfo("mono", "\"" + exe + "\"")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = dir,
            };
            using (Process p = Process.Start(psi))
            {
                var stderr = p.StandardError.ReadToEndAsync();
                string stdout = p.StandardOutput.ReadToEnd();
                // Exiting at all is part of the test: a library thread must not keep Mono alive.
                bool exited = p.WaitForExit(60000);
                if (!exited) p.Kill();
                Assert.IsTrue(exited, "Quickstart.exe did not exit within 60 s; output: " + stdout);
                Assert.AreEqual(0, p.ExitCode, stdout + stderr.Result);
                StringAssert.Contains("alice: hello", stdout);
                StringAssert.Contains("bob: hi", stdout);
                StringAssert.Contains("alice: again", stdout);
            }
        }
    }
}
