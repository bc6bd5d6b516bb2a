// A small JSON reader for the conformance scenarios (RFC 8259 subset that the scenario files use:
// objects, arrays, strings with escapes including surrogate pairs, integers, true/false/null).
// Objects keep their key order; numbers are read as long (the scenarios never use fractions, and
// a fraction or exponent is rejected rather than silently truncated).
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Odradek.Tests
{
    public static class Json
    {
        /// <summary>Parses a document: objects become JsonObject, arrays List&lt;object&gt;,
        /// strings string, numbers long, booleans bool, null null.</summary>
        public static object Parse(string text)
        {
            var reader = new Reader(text);
            reader.SkipWhitespace();
            object value = reader.ReadValue();
            reader.SkipWhitespace();
            if (!reader.AtEnd)
            {
                throw reader.Error("trailing characters after the document");
            }
            return value;
        }

        private sealed class Reader
        {
            private readonly string _text;
            private int _pos;

            public Reader(string text)
            {
                _text = text;
            }

            public bool AtEnd { get { return _pos >= _text.Length; } }

            public FormatException Error(string what)
            {
                int line = 1;
                for (int i = 0; i < _pos && i < _text.Length; i++)
                {
                    if (_text[i] == '\n') line++;
                }
                return new FormatException(string.Format("JSON: {0} at line {1} (offset {2})", what, line, _pos));
            }

            public void SkipWhitespace()
            {
                while (_pos < _text.Length && (_text[_pos] == ' ' || _text[_pos] == '\t' || _text[_pos] == '\n' || _text[_pos] == '\r'))
                {
                    _pos++;
                }
            }

            private char Peek()
            {
                if (_pos >= _text.Length) throw Error("unexpected end");
                return _text[_pos];
            }

            private void Expect(char c)
            {
                if (Peek() != c) throw Error("expected '" + c + "'");
                _pos++;
            }

            private void ExpectWord(string word)
            {
                if (string.CompareOrdinal(_text, _pos, word, 0, word.Length) != 0) throw Error("expected " + word);
                _pos += word.Length;
            }

            public object ReadValue()
            {
                char c = Peek();
                switch (c)
                {
                    case '{': return ReadObject();
                    case '[': return ReadArray();
                    case '"': return ReadString();
                    case 't': ExpectWord("true"); return true;
                    case 'f': ExpectWord("false"); return false;
                    case 'n': ExpectWord("null"); return null;
                    default:
                        if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
                        throw Error("unexpected character '" + c + "'");
                }
            }

            private JsonObject ReadObject()
            {
                Expect('{');
                var obj = new JsonObject();
                SkipWhitespace();
                if (Peek() == '}') { _pos++; return obj; }
                while (true)
                {
                    SkipWhitespace();
                    string key = ReadString();
                    SkipWhitespace();
                    Expect(':');
                    SkipWhitespace();
                    object value = ReadValue();
                    if (obj.ContainsKey(key)) throw Error("duplicate key \"" + key + "\"");
                    obj.Add(key, value);
                    SkipWhitespace();
                    if (Peek() == ',') { _pos++; continue; }
                    Expect('}');
                    return obj;
                }
            }

            private List<object> ReadArray()
            {
                Expect('[');
                var list = new List<object>();
                SkipWhitespace();
                if (Peek() == ']') { _pos++; return list; }
                while (true)
                {
                    SkipWhitespace();
                    list.Add(ReadValue());
                    SkipWhitespace();
                    if (Peek() == ',') { _pos++; continue; }
                    Expect(']');
                    return list;
                }
            }

            private string ReadString()
            {
                Expect('"');
                var sb = new StringBuilder();
                while (true)
                {
                    char c = Peek();
                    _pos++;
                    if (c == '"') return sb.ToString();
                    if (c < 0x20) throw Error("control character in string");
                    if (c != '\\') { sb.Append(c); continue; }
                    char e = Peek();
                    _pos++;
                    switch (e)
                    {
                        case '"': sb.Append('"'); break;
                        case '\\': sb.Append('\\'); break;
                        case '/': sb.Append('/'); break;
                        case 'b': sb.Append('\b'); break;
                        case 'f': sb.Append('\f'); break;
                        case 'n': sb.Append('\n'); break;
                        case 'r': sb.Append('\r'); break;
                        case 't': sb.Append('\t'); break;
                        case 'u':
                            if (_pos + 4 > _text.Length) throw Error("short \\u escape");
                            int code;
                            if (!int.TryParse(_text.Substring(_pos, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out code))
                            {
                                throw Error("bad \\u escape");
                            }
                            _pos += 4;
                            // Surrogate pairs arrive as two escapes; appending both UTF-16 units keeps them paired.
                            sb.Append((char)code);
                            break;
                        default: throw Error("bad escape \\" + e);
                    }
                }
            }

            private long ReadNumber()
            {
                int start = _pos;
                if (Peek() == '-') _pos++;
                while (_pos < _text.Length && _text[_pos] >= '0' && _text[_pos] <= '9') _pos++;
                if (_pos < _text.Length && (_text[_pos] == '.' || _text[_pos] == 'e' || _text[_pos] == 'E'))
                {
                    throw Error("non-integer numbers are not used by the scenarios");
                }
                long value;
                if (!long.TryParse(_text.Substring(start, _pos - start), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
                {
                    throw Error("bad number");
                }
                return value;
            }
        }
    }

    /// <summary>A JSON object: keys in document order.</summary>
    public sealed class JsonObject : Dictionary<string, object>
    {
        private readonly List<string> _order = new List<string>();

        public new void Add(string key, object value)
        {
            base.Add(key, value);
            _order.Add(key);
        }

        public IEnumerable<string> OrderedKeys { get { return _order; } }

        public bool Has(string key) { return ContainsKey(key); }

        public string Str(string key)
        {
            object v = Get(key);
            var s = v as string;
            if (s == null) throw new FormatException("\"" + key + "\" must be a string");
            return s;
        }

        public long Long(string key)
        {
            object v = Get(key);
            if (!(v is long)) throw new FormatException("\"" + key + "\" must be an integer");
            return (long)v;
        }

        public JsonObject Obj(string key)
        {
            var o = Get(key) as JsonObject;
            if (o == null) throw new FormatException("\"" + key + "\" must be an object");
            return o;
        }

        public List<object> List(string key)
        {
            var l = Get(key) as List<object>;
            if (l == null) throw new FormatException("\"" + key + "\" must be an array");
            return l;
        }

        public object Get(string key)
        {
            object v;
            if (!TryGetValue(key, out v)) throw new FormatException("missing \"" + key + "\"");
            return v;
        }
    }

    /// <summary>The bytes notation of tests/conformance/README.md: null, a string (its UTF-8),
    /// {"hex": "00ff"} or {"repeat": "x", "count": N}.</summary>
    public static class JsonBytes
    {
        public static byte[] Of(object spec)
        {
            if (spec == null) return null;
            var s = spec as string;
            if (s != null) return Encoding.UTF8.GetBytes(s);
            var o = spec as JsonObject;
            if (o != null && o.Has("hex") && o.Count == 1)
            {
                string hex = o.Str("hex");
                if (hex.Length % 2 != 0) throw new FormatException("odd hex length");
                var b = new byte[hex.Length / 2];
                for (int i = 0; i < b.Length; i++) b[i] = Convert.ToByte(hex.Substring(2 * i, 2), 16);
                return b;
            }
            if (o != null && o.Has("repeat") && o.Has("count") && o.Count == 2)
            {
                var sb = new StringBuilder();
                string unit = o.Str("repeat");
                for (long i = 0; i < o.Long("count"); i++) sb.Append(unit);
                return Encoding.UTF8.GetBytes(sb.ToString());
            }
            throw new FormatException("not a bytes value: " + spec);
        }
    }
}
