//! Config values as the bindings' languages give them, and the one rule that turns each into
//! the property string the config table parses. Bindings only map their native values onto
//! [`ConfigValue`] (Python `True`, Node `5`, a `timedelta`, ...); every coercion and every
//! refusal is decided here, so `{"linger.ms": 5}` means the same in every language.

use std::fmt;

use crate::error::{Error, Result};

/// One config value before it becomes a property string.
///
/// ```
/// use odradek::config::ConfigValue;
///
/// assert_eq!(ConfigValue::Bool(true).to_setting("enable.idempotence").unwrap().as_deref(), Some("true"));
/// assert_eq!(ConfigValue::Float(5.0).to_setting("linger.ms").unwrap().as_deref(), Some("5"));
/// assert_eq!(ConfigValue::Null.to_setting("linger.ms").unwrap(), None); // not set
/// assert!(ConfigValue::Float(f64::NAN).to_setting("linger.ms").is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    /// Python `None`, JavaScript `null` / `undefined`: the key is not set (its default applies).
    Null,
    /// Taken as it is.
    Str(String),
    /// `"true"` / `"false"`.
    Bool(bool),
    /// Decimal.
    Int(i64),
    /// Finite only; a whole number is written without a fraction (`5.0` → `"5"`).
    Float(f64),
    /// A signed duration in microseconds (Python `timedelta`): accepted for a key ending in
    /// `.ms` as a whole number of milliseconds.
    DurationMicros(i64),
    /// Anything else the language has (a dict, a list, an object, bytes, a function); always
    /// refused. Holds the language's name for the type, for the error.
    Unsupported(String),
}

impl ConfigValue {
    /// The property string for `key`, `None` when the key is not to be set, or an
    /// `_INVALID_CONFIG` error naming the key.
    pub fn to_setting(&self, key: &str) -> Result<Option<String>> {
        let text = match self {
            ConfigValue::Null => return Ok(None),
            ConfigValue::Str(s) => s.clone(),
            ConfigValue::Bool(b) => b.to_string(),
            ConfigValue::Int(i) => i.to_string(),
            ConfigValue::Float(f) => float_setting(key, *f)?,
            ConfigValue::DurationMicros(us) => duration_setting(key, *us)?,
            ConfigValue::Unsupported(type_name) => {
                return Err(Error::config(
                    key,
                    format!(
                        "a value of type {type_name} is not accepted (give a string, a boolean, \
                         a number, or a duration for a key ending in .ms)"
                    ),
                ));
            }
        };
        Ok(Some(text))
    }

    /// Every pair whose value is set, as (key, property string), in the given order; the first
    /// value refused fails the whole list. For maps that are not a client [`super::Config`]:
    /// topic configs, broker properties, SASL extensions.
    pub fn settings<I, K>(pairs: I) -> Result<Vec<(String, String)>>
    where
        I: IntoIterator<Item = (K, ConfigValue)>,
        K: Into<String>,
    {
        let mut out = Vec::new();
        for (key, value) in pairs {
            let key = key.into();
            if let Some(text) = value.to_setting(&key)? {
                out.push((key, text));
            }
        }
        Ok(out)
    }
}

/// `5.0` → `"5"`, `0.25` → `"0.25"`; NaN and infinities are refused.
fn float_setting(key: &str, f: f64) -> Result<String> {
    if !f.is_finite() {
        return Err(Error::config(key, format!("{f} is not a finite number")));
    }
    // Rust's shortest round-trip form already omits ".0"; -0.0 would print as "-0".
    Ok(if f == 0.0 { "0".into() } else { f.to_string() })
}

fn duration_setting(key: &str, micros: i64) -> Result<String> {
    if !key.ends_with(".ms") {
        return Err(Error::config(
            key,
            "a duration is accepted only for a key ending in .ms (give a number otherwise)",
        ));
    }
    if micros % 1000 != 0 {
        return Err(Error::config(
            key,
            format!("a duration of {micros} µs is not a whole number of milliseconds"),
        ));
    }
    Ok((micros / 1000).to_string())
}

impl fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::Null => f.write_str("null"),
            ConfigValue::Str(s) => write!(f, "{s:?}"),
            ConfigValue::Bool(b) => write!(f, "{b}"),
            ConfigValue::Int(i) => write!(f, "{i}"),
            ConfigValue::Float(x) => write!(f, "{x}"),
            ConfigValue::DurationMicros(us) => write!(f, "{us} µs"),
            ConfigValue::Unsupported(t) => write!(f, "<{t}>"),
        }
    }
}

impl From<&str> for ConfigValue {
    fn from(s: &str) -> Self {
        ConfigValue::Str(s.to_owned())
    }
}

impl From<String> for ConfigValue {
    fn from(s: String) -> Self {
        ConfigValue::Str(s)
    }
}

impl From<bool> for ConfigValue {
    fn from(b: bool) -> Self {
        ConfigValue::Bool(b)
    }
}

impl From<i64> for ConfigValue {
    fn from(i: i64) -> Self {
        ConfigValue::Int(i)
    }
}

impl From<i32> for ConfigValue {
    fn from(i: i32) -> Self {
        ConfigValue::Int(i.into())
    }
}

impl From<f64> for ConfigValue {
    fn from(f: f64) -> Self {
        ConfigValue::Float(f)
    }
}

impl From<std::time::Duration> for ConfigValue {
    /// Durations beyond `i64::MAX` microseconds (about 292,000 years) saturate.
    fn from(d: std::time::Duration) -> Self {
        ConfigValue::DurationMicros(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::error::ErrorKind;

    fn setting(v: ConfigValue) -> Option<String> {
        v.to_setting("linger.ms").unwrap()
    }

    fn refused(key: &str, v: ConfigValue) -> String {
        let e = v.to_setting(key).unwrap_err();
        assert_eq!(*e.kind(), ErrorKind::Config);
        assert_eq!(e.name(), "_INVALID_CONFIG");
        e.to_string()
    }

    #[test]
    fn each_kind_has_one_spelling() {
        assert_eq!(setting(ConfigValue::Null), None);
        assert_eq!(setting("20".into()).as_deref(), Some("20"));
        assert_eq!(setting(true.into()).as_deref(), Some("true"));
        assert_eq!(setting(false.into()).as_deref(), Some("false"));
        assert_eq!(setting(5i64.into()).as_deref(), Some("5"));
        assert_eq!(setting((-1i64).into()).as_deref(), Some("-1"));
        assert_eq!(setting(5.0.into()).as_deref(), Some("5"));
        assert_eq!(setting((-0.0).into()).as_deref(), Some("0"));
        assert_eq!(setting(0.25.into()).as_deref(), Some("0.25"));
        assert_eq!(
            setting(1e21.into()).as_deref(),
            Some("1000000000000000000000")
        );
        assert_eq!(
            setting(std::time::Duration::from_millis(1500).into()).as_deref(),
            Some("1500")
        );
        assert_eq!(
            setting(ConfigValue::DurationMicros(-1000)).as_deref(),
            Some("-1")
        );
    }

    #[test]
    fn refusals_name_the_key() {
        for f in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let m = refused("linger.ms", ConfigValue::Float(f));
            assert!(
                m.contains("linger.ms") && m.contains("not a finite number"),
                "{m}"
            );
        }
        let m = refused("linger.ms", ConfigValue::Unsupported("dict".into()));
        assert!(m.contains("linger.ms") && m.contains("type dict"), "{m}");
        let m = refused("acks", ConfigValue::DurationMicros(1000));
        assert!(m.contains("acks") && m.contains("ending in .ms"), "{m}");
        let m = refused("linger.ms", ConfigValue::DurationMicros(1500));
        assert!(m.contains("whole number of milliseconds"), "{m}");
    }

    #[test]
    fn config_from_values_skips_null_and_checks_the_property() {
        let config = Config::from_values([
            ("bootstrap.servers", ConfigValue::from("127.0.0.1:9092")),
            ("linger.ms", ConfigValue::Float(20.0)),
            ("enable.idempotence", ConfigValue::Bool(false)),
            ("client.id", ConfigValue::Null),
        ])
        .unwrap();
        assert_eq!(config.get("linger.ms"), Some("20"));
        assert_eq!(config.get("enable.idempotence"), Some("false"));
        // Null leaves the default, never the string "None" / "null".
        assert_eq!(config.get("client.id"), Config::new().get("client.id"));
        // A fraction where the property wants an integer: the property's own check refuses it.
        let e = Config::from_values([("linger.ms", ConfigValue::Float(0.5))]).unwrap_err();
        assert_eq!(e.name(), "_INVALID_CONFIG");
    }

    #[test]
    fn settings_keep_order_and_drop_nulls() {
        let out = ConfigValue::settings([
            ("retention.ms", ConfigValue::Int(-1)),
            ("cleanup.policy", ConfigValue::Null),
            ("segment.bytes", ConfigValue::Float(1048576.0)),
        ])
        .unwrap();
        assert_eq!(
            out,
            [
                ("retention.ms".to_string(), "-1".to_string()),
                ("segment.bytes".to_string(), "1048576".to_string())
            ]
        );
        assert!(ConfigValue::settings([("x", ConfigValue::Unsupported("list".into()))]).is_err());
    }
}
