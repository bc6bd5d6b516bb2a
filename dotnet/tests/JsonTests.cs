using System;
using System.Collections.Generic;
using NUnit.Framework;

namespace Odradek.Tests
{
    [TestFixture]
    public class JsonTests
    {
        [Test]
        public void ParsesTheScenarioSubset()
        {
            var o = (JsonObject)Json.Parse("{\"a\": [1, -2, \"x\\u00e9\\n\", null, true, false], \"b\": {\"hex\": \"00ff\"}, \"c\": \"\\ud83d\\ude00\"}");
            var a = o.List("a");
            Assert.AreEqual(1L, a[0]);
            Assert.AreEqual(-2L, a[1]);
            Assert.AreEqual("x\u00e9\n", a[2]);
            Assert.IsNull(a[3]);
            Assert.AreEqual(true, a[4]);
            Assert.AreEqual(false, a[5]);
            Assert.AreEqual("00ff", o.Obj("b").Str("hex"));
            Assert.AreEqual("\U0001F600", o.Str("c"));
            CollectionAssert.AreEqual(new[] { "a", "b", "c" }, new List<string>(o.OrderedKeys));
        }

        [Test]
        public void RejectsWhatItDoesNotUnderstand()
        {
            Assert.Throws<FormatException>(() => Json.Parse("{\"a\": 1.5}"));
            Assert.Throws<FormatException>(() => Json.Parse("{\"a\": 1,}"));
            Assert.Throws<FormatException>(() => Json.Parse("{\"a\": 1} x"));
            Assert.Throws<FormatException>(() => Json.Parse("{\"a\": 1, \"a\": 2}"));
        }

        [Test]
        public void BytesSpecs()
        {
            Assert.IsNull(ScenarioRun.Bytes(null));
            CollectionAssert.AreEqual(new byte[0], ScenarioRun.Bytes(""));
            CollectionAssert.AreEqual(new byte[] { 0, 0xff, 0x10 }, ScenarioRun.Bytes(Json.Parse("{\"hex\": \"00ff10\"}")));
            Assert.AreEqual(15, ScenarioRun.Bytes(Json.Parse("{\"repeat\": \"xyz\", \"count\": 5}")).Length);
            CollectionAssert.AreEqual(new byte[] { 0xe2, 0x9c, 0x93 }, ScenarioRun.Bytes("\u2713"));
        }
    }
}
