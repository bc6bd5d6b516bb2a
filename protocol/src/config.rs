//! Config values as Kafka defines them, shared by the client's property table and the broker's
//! broker and topic configs: the type codes DescribeConfigs carries on the wire, and one checker
//! that validates a value against its kind and returns its canonical spelling.
//!
//! ```
//! use odradek_protocol::config::ValueKind;
//!
//! assert_eq!(ValueKind::Bool.normalize("TRUE"), Ok("true".to_string()));
//! assert_eq!(ValueKind::Int { min: 0, max: 10 }.normalize(" 7"), Ok("7".to_string()));
//! assert!(ValueKind::Int { min: 0, max: 10 }.normalize("11").is_err());
//! ```

/// The type of a config value as DescribeConfigs reports it (`config_type`, KIP-569).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    /// `true` or `false`.
    Boolean = 1,
    /// Free text, or one of a set of words.
    String = 2,
    /// A 32-bit integer.
    Int = 3,
    /// A 16-bit integer.
    Short = 4,
    /// A 64-bit integer.
    Long = 5,
    /// A floating-point number.
    Double = 6,
    /// A comma-separated list.
    List = 7,
    /// A Java class name.
    Class = 8,
    /// A secret: never echoed back.
    Password = 9,
}

/// The kind of value a config takes: what [`ValueKind::normalize`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Free text, kept as given.
    Str,
    /// An integer within an inclusive range.
    Int {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// A boolean: `true`/`false` as Kafka spells them, and librdkafka's `1`/`0`, `t`/`f` and
    /// `yes`/`no`, any case; canonical form `true` / `false`.
    Bool,
    /// A floating-point number, kept as given.
    Double,
    /// One of a fixed set of words, any case; each entry is (accepted spelling, canonical value).
    Enum(&'static [(&'static str, &'static str)]),
    /// Exactly one of a fixed set of words, case-sensitive (Kafka's `ValidString`).
    OneOf(&'static [&'static str]),
    /// A comma-separated list whose items are each one of `choices` (any item when empty).
    List(&'static [&'static str]),
}

impl ValueKind {
    /// Checks `value` (surrounding white space ignored) and returns its canonical spelling, or
    /// an error saying what was expected — without the key, which the caller adds.
    pub fn normalize(self, value: &str) -> Result<String, String> {
        let value = value.trim();
        match self {
            ValueKind::Str => Ok(value.to_owned()),
            ValueKind::Int { min, max } => {
                let n: i64 = value
                    .parse()
                    .map_err(|_| format!("expected an integer, got {value:?}"))?;
                if n < min || n > max {
                    return Err(format!("{n} is outside {min}..={max}"));
                }
                Ok(n.to_string())
            }
            ValueKind::Bool => match value.to_ascii_lowercase().as_str() {
                "true" | "t" | "1" | "yes" => Ok("true".into()),
                "false" | "f" | "0" | "no" => Ok("false".into()),
                _ => Err(format!("expected true or false, got {value:?}")),
            },
            ValueKind::Double => value
                .parse::<f64>()
                .map(|_| value.to_owned())
                .map_err(|_| format!("expected a number, got {value:?}")),
            ValueKind::Enum(choices) => {
                let lower = value.to_ascii_lowercase();
                choices
                    .iter()
                    .find(|(spelling, _)| *spelling == lower)
                    .map(|(_, canonical)| (*canonical).to_owned())
                    .ok_or_else(|| {
                        let accepted: Vec<&str> = choices.iter().map(|(s, _)| *s).collect();
                        format!("{value:?} is not one of {}", accepted.join(", "))
                    })
            }
            ValueKind::OneOf(choices) => {
                if choices.contains(&value) {
                    Ok(value.to_owned())
                } else {
                    Err(format!("{value:?} is not one of {}", choices.join(", ")))
                }
            }
            ValueKind::List(choices) => {
                let items: Vec<&str> = value.split(',').map(str::trim).collect();
                if let Some(bad) = items
                    .iter()
                    .find(|item| !choices.is_empty() && !choices.contains(item))
                {
                    return Err(format!("{bad:?} is not one of {}", choices.join(", ")));
                }
                Ok(items.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ValueKind;

    #[test]
    fn each_kind_accepts_its_values_and_names_what_it_expected() {
        assert_eq!(ValueKind::Bool.normalize("Yes"), Ok("true".into()));
        assert_eq!(ValueKind::Bool.normalize("0"), Ok("false".into()));
        assert!(
            ValueKind::Bool
                .normalize("maybe")
                .unwrap_err()
                .contains("true or false")
        );
        let int = ValueKind::Int { min: 1, max: 5 };
        assert_eq!(int.normalize("5"), Ok("5".into()));
        assert!(int.normalize("0").unwrap_err().contains("outside 1..=5"));
        assert!(int.normalize("x").unwrap_err().contains("integer"));
        assert!(ValueKind::Double.normalize("0.5").is_ok());
        assert!(ValueKind::Double.normalize("half").is_err());
        let codecs = ValueKind::Enum(&[("none", "none"), ("lz4", "lz4"), ("off", "none")]);
        assert_eq!(codecs.normalize("OFF"), Ok("none".into()));
        assert!(
            codecs
                .normalize("brotli")
                .unwrap_err()
                .contains("none, lz4, off")
        );
        let policy = ValueKind::List(&["delete", "compact"]);
        assert_eq!(
            policy.normalize("delete, compact"),
            Ok("delete,compact".into())
        );
        assert!(policy.normalize("delete,shred").is_err());
        assert_eq!(ValueKind::List(&[]).normalize("a, b"), Ok("a,b".into()));
        let timestamps = ValueKind::OneOf(&["CreateTime", "LogAppendTime"]);
        assert_eq!(
            timestamps.normalize("LogAppendTime"),
            Ok("LogAppendTime".into())
        );
        assert!(timestamps.normalize("logappendtime").is_err());
    }
}
