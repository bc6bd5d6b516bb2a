using System;
using System.IO;

namespace Odradek.Tests
{
    internal static class TestPaths
    {
        /// <summary>The repository root: $ODRADEK_REPO_ROOT (set by scripts/test.d/60-dotnet.sh), else the
        /// first parent of the working directory that holds tests/conformance.</summary>
        public static string RepoRoot()
        {
            string env = Environment.GetEnvironmentVariable("ODRADEK_REPO_ROOT");
            if (!string.IsNullOrEmpty(env)) return env;
            for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir != null; dir = dir.Parent)
            {
                if (Directory.Exists(Path.Combine(dir.FullName, "tests", "conformance"))) return dir.FullName;
            }
            throw new InvalidOperationException("cannot find the repository root; set ODRADEK_REPO_ROOT");
        }
    }
}
