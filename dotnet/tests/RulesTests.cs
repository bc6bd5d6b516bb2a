// The small rules (special offsets, error classes, local error codes) are the core's, published in
// the C ABI header (bindings/c/include/odradek.h). C# cannot include the header, so the binding's
// constants are checked against it here: this fails when one drifts.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace Odradek.Tests
{
    [TestFixture]
    public class RulesTests
    {
        private static Dictionary<string, long> HeaderDefines()
        {
            string path = Path.Combine(TestPaths.RepoRoot(), "bindings", "c", "include", "odradek.h");
            var defines = new Dictionary<string, long>();
            foreach (Match m in Regex.Matches(File.ReadAllText(path), @"^#define (ODRADEK_\w+) (-?\d+)\r?$", RegexOptions.Multiline))
            {
                defines[m.Groups[1].Value] = long.Parse(m.Groups[2].Value);
            }
            return defines;
        }

        [Test]
        public void OffsetsClassesAndCodesAreTheHeaders()
        {
            var d = HeaderDefines();
            Assert.AreEqual(d["ODRADEK_OFFSET_BEGINNING"], Offset.Beginning.Value);
            Assert.AreEqual(d["ODRADEK_OFFSET_END"], Offset.End.Value);
            Assert.AreEqual(d["ODRADEK_OFFSET_STORED"], Offset.Stored.Value);
            Assert.AreEqual(d["ODRADEK_OFFSET_INVALID"], Offset.Unset.Value);
            foreach (ErrorClass c in Enum.GetValues(typeof(ErrorClass)))
            {
                Assert.AreEqual(d["ODRADEK_CLASS_" + c.ToString().ToUpperInvariant()], (long)c, c.ToString());
            }
            int codes = 0;
            foreach (var f in typeof(LocalErrorCodes).GetFields())
            {
                // TimedOut -> ODRADEK_ERR_TIMED_OUT
                string name = "ODRADEK_ERR_" + Regex.Replace(f.Name, "(?<=[a-z])([A-Z])", "_$1").ToUpperInvariant();
                Assert.IsTrue(d.ContainsKey(name), name + " is not in the header");
                Assert.AreEqual(d[name], (long)(int)f.GetValue(null), name);
                codes++;
            }
            Assert.AreEqual(10, codes);
        }
    }
}
