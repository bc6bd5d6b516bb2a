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
            string stdout = Run("Quickstart.exe");
            StringAssert.Contains("alice: hello", stdout);
            StringAssert.Contains("bob: hi", stdout);
            StringAssert.Contains("alice: again", stdout);
        }

        [Test]
        public void TransactionsExampleRunsAndExits()
        {
            string stdout = Run("Transactions.exe");
            StringAssert.Contains("transformed 4 records exactly once", stdout);
        }

        [Test]
        public void ReadmeExampleRunsAndExits()
        {
            string stdout = Run("ReadmeExample.exe");
            StringAssert.Contains("alice: hello", stdout);
            StringAssert.Contains("assigned greetings-0, greetings-1, greetings-2", stdout);
        }

        private static string Run(string name)
        {
            string dir = Environment.GetEnvironmentVariable("ODRADEK_DOTNET_OUT");
            Assert.IsFalse(string.IsNullOrEmpty(dir), "ODRADEK_DOTNET_OUT is not set (run through scripts/test.d/60-dotnet.sh)");
            string exe = Path.Combine(dir, name);
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
                var output = p.StandardOutput.ReadToEndAsync();
                // Exiting at all is part of the test: a library thread must not keep Mono alive.
                bool exited = p.WaitForExit(60000);
                if (!exited) p.Kill();
                string stdout = output.Wait(5000) ? output.Result : "(no output)";
                Assert.IsTrue(exited, name + " did not exit within 60 s; output: " + stdout);
                Assert.AreEqual(0, p.ExitCode, stdout + stderr.Result);
                return stdout;
            }
        }
    }
}
