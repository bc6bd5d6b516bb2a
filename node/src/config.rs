//! JavaScript config values onto the core's `ConfigValue`, one case per `typeof`. What each
//! becomes (`true` → "true", `5` → "5", `null` / `undefined` → not set, an object → an error
//! naming the key) is decided by `odradek::config::ConfigValue`, the same rule for every binding.

use std::collections::HashMap;

use napi::bindgen_prelude::*;
use napi::{JsValue, sys};
use napi_derive::napi;
use odradek::config::{Config, ConfigValue};

use crate::js_error;

/// A config object as JavaScript passes it: property name → value as the user gave it.
/// (`undefined` properties never arrive: napi leaves them out of the map.)
pub(crate) type ConfigMap = HashMap<String, JsConfigValue>;

/// One JavaScript value, mapped without coercing it.
pub struct JsConfigValue(ConfigValue);

impl TypeName for JsConfigValue {
    fn type_name() -> &'static str {
        "string | number | boolean | bigint | null"
    }

    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

// The one unsafe edge of this crate: napi's conversion trait is unsafe to implement.
#[allow(unsafe_code)]
impl FromNapiValue for JsConfigValue {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        // SAFETY: napi passes a live value of `env`; each conversion below is the one for the
        // type `typeof` just reported.
        let unknown = unsafe { Unknown::from_raw_unchecked(env, value) };
        let mapped = match unknown.get_type()? {
            ValueType::Undefined | ValueType::Null => ConfigValue::Null,
            ValueType::Boolean => ConfigValue::Bool(unsafe { bool::from_napi_value(env, value)? }),
            ValueType::Number => ConfigValue::Float(unsafe { f64::from_napi_value(env, value)? }),
            ValueType::String => ConfigValue::Str(unsafe { String::from_napi_value(env, value)? }),
            ValueType::BigInt => match unsafe { BigInt::from_napi_value(env, value)? }.get_i64() {
                (i, true) => ConfigValue::Int(i),
                _ => ConfigValue::Unsupported("bigint beyond 64 bits".into()),
            },
            ValueType::Object if unknown.is_array()? => ConfigValue::Unsupported("array".into()),
            other => ConfigValue::Unsupported(other.to_string().to_lowercase()),
        };
        Ok(JsConfigValue(mapped))
    }
}

/// The map's pairs sorted by key, so that the first bad key reported is the same on every run.
fn sorted(map: ConfigMap) -> Vec<(String, ConfigValue)> {
    let mut pairs: Vec<(String, ConfigValue)> = map.into_iter().map(|(k, v)| (k, v.0)).collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
}

/// A client config.
pub(crate) fn config_from(map: ConfigMap) -> Result<Config> {
    Config::from_values(sorted(map)).map_err(js_error)
}

/// The set pairs as property strings (topic configs, broker properties, SASL extensions).
pub(crate) fn settings(map: ConfigMap) -> Result<Vec<(String, String)>> {
    ConfigValue::settings(sorted(map)).map_err(js_error)
}

/// `configSetting(key, value)`: the property string the core makes of `value` for `key`
/// (`null`: not set), or the `_INVALID_CONFIG` error; for tests and for checking a config.
#[napi]
pub fn config_setting(key: String, value: JsConfigValue) -> Result<Option<String>> {
    value.0.to_setting(&key).map_err(js_error)
}
