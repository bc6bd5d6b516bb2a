// The API parity manifest (tests/parity/manifest.json): every name it lists for .NET is a public
// member of the named Odradek class, so the README's parity table never claims what the binding
// lacks.
using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Text;
using NUnit.Framework;

namespace Odradek.Tests
{
    [TestFixture]
    public class ParityTests
    {
        private static bool Has(string name)
        {
            string[] parts = name.Split('.');
            if (parts.Length != 2) return false;
            Type type = typeof(Producer).Assembly.GetType("Odradek." + parts[0]);
            return type != null && type.GetMember(parts[1], BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static).Length > 0;
        }

        [Test]
        public void EveryNameTheManifestListsExists()
        {
            string path = Path.Combine(TestPaths.RepoRoot(), "tests", "parity", "manifest.json");
            var doc = (JsonObject)Json.Parse(File.ReadAllText(path, Encoding.UTF8));
            Assert.IsFalse(Has("Consumer.Teleport"), "the check finds a member that does not exist");
            var missing = new List<string>();
            int checkedNames = 0;
            foreach (object c in doc.List("capabilities"))
            {
                var cap = (JsonObject)c;
                var names = cap.Get("dotnet") as List<object>;
                if (names == null) continue; // {"missing": ...}: a gap the table names
                foreach (object n in names)
                {
                    checkedNames++;
                    if (!Has((string)n)) missing.Add(cap.Str("name") + ": " + n);
                }
            }
            Assert.Greater(checkedNames, 0, "no .NET names in the manifest");
            Assert.IsEmpty(missing, "names the .NET binding lacks: " + string.Join(", ", missing.ToArray()));
        }
    }
}
