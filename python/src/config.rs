//! Python config values onto the core's `ConfigValue`, one case per Python type. What each
//! becomes (`True` → "true", `5.0` → "5", `None` → not set, a dict → an error naming the key)
//! is decided by `odradek::config::ConfigValue`, the same rule for every binding.

use odradek::config::ConfigValue;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString};

/// A config mapping as `_client._config_pairs` passes it: (key, value as the user gave it).
pub(crate) type ConfigPairs = Vec<(String, PyConfigValue)>;

/// One Python value, mapped without coercing it.
pub(crate) struct PyConfigValue(ConfigValue);

impl<'a, 'py> FromPyObject<'a, 'py> for PyConfigValue {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let value = if obj.is_none() {
            ConfigValue::Null
        } else if obj.is_instance_of::<PyBool>() {
            // Before int: bool is a subclass of int.
            ConfigValue::Bool(obj.extract()?)
        } else if obj.is_instance_of::<PyInt>() {
            match obj.extract::<i64>() {
                Ok(i) => ConfigValue::Int(i),
                Err(_) => ConfigValue::Unsupported("int beyond 64 bits".into()),
            }
        } else if obj.is_instance_of::<PyFloat>() {
            ConfigValue::Float(obj.extract()?)
        } else if obj.is_instance_of::<PyString>() {
            ConfigValue::Str(obj.extract()?)
        } else if obj.is_instance(&timedelta(obj.py())?)? {
            timedelta_micros(&obj)?
        } else {
            ConfigValue::Unsupported(obj.get_type().name()?.to_string())
        };
        Ok(PyConfigValue(value))
    }
}

fn timedelta<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
    py.import("datetime")?.getattr("timedelta")
}

/// A `timedelta` as whole microseconds (days, seconds and microseconds are its exact fields).
fn timedelta_micros(delta: &Borrowed<'_, '_, PyAny>) -> PyResult<ConfigValue> {
    let field = |name: &str| -> PyResult<i64> { delta.getattr(name)?.extract() };
    let micros = (field("days")? as i128 * 86_400 + field("seconds")? as i128) * 1_000_000
        + field("microseconds")? as i128;
    Ok(match i64::try_from(micros) {
        Ok(us) => ConfigValue::DurationMicros(us),
        Err(_) => ConfigValue::Unsupported("timedelta beyond 64-bit microseconds".into()),
    })
}

/// The pairs whose value is set, as property strings (topic configs, broker properties).
pub(crate) fn settings(py: Python<'_>, pairs: ConfigPairs) -> PyResult<Vec<(String, String)>> {
    ConfigValue::settings(pairs.into_iter().map(|(k, v)| (k, v.0))).map_err(|e| crate::raise(py, e))
}

/// A client config from the pairs.
pub(crate) fn client_config(
    py: Python<'_>,
    pairs: ConfigPairs,
) -> PyResult<odradek::config::Config> {
    // In the dict's order, as before: a later spelling of one property wins.
    odradek::config::Config::from_values(pairs.into_iter().map(|(k, v)| (k, v.0)))
        .map_err(|e| crate::raise(py, e))
}

/// `config_setting(key, value)`: the property string the core makes of `value` for `key`
/// (`None`: not set), or the `ConfigError` it raises; for tests and for checking a config.
#[pyfunction]
pub(crate) fn config_setting(
    py: Python<'_>,
    key: &str,
    value: PyConfigValue,
) -> PyResult<Option<String>> {
    value.0.to_setting(key).map_err(|e| crate::raise(py, e))
}
