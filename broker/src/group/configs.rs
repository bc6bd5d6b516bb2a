//! Dynamic group configs (KIP-848's `consumer.session.timeout.ms` and
//! `consumer.heartbeat.interval.ms`; KIP-932's `share.*`), set with IncrementalAlterConfigs on
//! resource type GROUP and described with DescribeConfigs. A group's settings override the
//! coordinator-wide `group.consumer.*` / `group.share.*` properties for its members. Stored in
//! `DATA/__groups/configs` (one `hex(group id) key=value` line per setting), rewritten whole on
//! every change: they change rarely.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::BrokerProperties;
use crate::log::index::write_file_atomically;

/// One group config: its name, the broker property giving its default, and the broker
/// properties bounding it (inclusive), as in Kafka's `GroupConfig`. A config with `choices` is a
/// string among them (its default is `choices[0]`, and the keys are empty).
#[derive(Debug)]
pub struct GroupConfigDef {
    pub name: &'static str,
    pub default_key: &'static str,
    pub min_key: &'static str,
    pub max_key: &'static str,
    pub choices: &'static [&'static str],
}

const fn millis(
    name: &'static str,
    default_key: &'static str,
    min_key: &'static str,
    max_key: &'static str,
) -> GroupConfigDef {
    GroupConfigDef {
        name,
        default_key,
        min_key,
        max_key,
        choices: &[],
    }
}

pub static GROUP_CONFIGS: &[GroupConfigDef] = &[
    millis(
        "consumer.session.timeout.ms",
        "group.consumer.session.timeout.ms",
        "group.consumer.min.session.timeout.ms",
        "group.consumer.max.session.timeout.ms",
    ),
    millis(
        "consumer.heartbeat.interval.ms",
        "group.consumer.heartbeat.interval.ms",
        "group.consumer.min.heartbeat.interval.ms",
        "group.consumer.max.heartbeat.interval.ms",
    ),
    millis(
        "share.session.timeout.ms",
        "group.share.session.timeout.ms",
        "group.share.min.session.timeout.ms",
        "group.share.max.session.timeout.ms",
    ),
    millis(
        "share.heartbeat.interval.ms",
        "group.share.heartbeat.interval.ms",
        "group.share.min.heartbeat.interval.ms",
        "group.share.max.heartbeat.interval.ms",
    ),
    millis(
        "share.record.lock.duration.ms",
        "group.share.record.lock.duration.ms",
        "group.share.min.record.lock.duration.ms",
        "group.share.max.record.lock.duration.ms",
    ),
    // Kafka also takes `by_duration:<ISO-8601 duration>`, which this broker does not yet.
    GroupConfigDef {
        name: "share.auto.offset.reset",
        default_key: "",
        min_key: "",
        max_key: "",
        choices: &["latest", "earliest"],
    },
];

/// Where a described value comes from (DescribeConfigs `config_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupConfigSource {
    /// Set on the group (Kafka's GROUP_CONFIG).
    Group = 8,
    /// The broker's value (set or default).
    Broker = 5,
}

#[derive(Debug)]
pub struct GroupConfigs {
    path: PathBuf,
    by_group: HashMap<String, BTreeMap<String, String>>,
}

/// A config edit of IncrementalAlterConfigs: SET with a value, or DELETE (None).
pub type GroupConfigEdit = (String, Option<String>);

impl GroupConfigs {
    /// Loads `dir/configs` (missing means no group has settings).
    pub fn open(dir: &Path) -> io::Result<Self> {
        let path = dir.join("configs");
        let mut by_group: HashMap<String, BTreeMap<String, String>> = HashMap::new();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        for (n, line) in text.lines().enumerate() {
            let parsed = line.split_once(' ').and_then(|(g, kv)| {
                let (k, v) = kv.split_once('=')?;
                Some((unhex(g)?, k.to_string(), v.to_string()))
            });
            let Some((group, k, v)) = parsed else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: line {}: malformed", path.display(), n + 1),
                ));
            };
            by_group.entry(group).or_default().insert(k, v);
        }
        Ok(Self { path, by_group })
    }

    /// Every group config with its value and source (filtered to `keys` if given).
    pub fn describe(
        &self,
        props: &BrokerProperties,
        group: &str,
        keys: Option<&[String]>,
    ) -> Vec<(&'static str, String, GroupConfigSource)> {
        let set = self.by_group.get(group);
        GROUP_CONFIGS
            .iter()
            .filter(|d| keys.is_none_or(|k| k.iter().any(|k| k == d.name)))
            .map(|d| match set.and_then(|s| s.get(d.name)) {
                Some(v) => (d.name, v.clone(), GroupConfigSource::Group),
                None if !d.choices.is_empty() => {
                    (d.name, d.choices[0].to_string(), GroupConfigSource::Broker)
                }
                None => (
                    d.name,
                    props.long(d.default_key).to_string(),
                    GroupConfigSource::Broker,
                ),
            })
            .collect()
    }

    /// Applies edits to one group's settings (all or none); with `validate_only` nothing
    /// changes. The error names the config and says what is allowed.
    pub fn alter(
        &mut self,
        props: &BrokerProperties,
        group: &str,
        edits: Vec<GroupConfigEdit>,
        validate_only: bool,
    ) -> Result<(), String> {
        if group.is_empty() {
            return Err("the group id is empty".into());
        }
        let mut next = self.by_group.get(group).cloned().unwrap_or_default();
        for (key, value) in edits {
            let def = GROUP_CONFIGS
                .iter()
                .find(|d| d.name == key)
                .ok_or_else(|| {
                    format!(
                        "unknown group config {key:?} (known: {})",
                        GROUP_CONFIGS
                            .iter()
                            .map(|d| d.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            match value {
                None => {
                    next.remove(&key);
                }
                Some(v) if !def.choices.is_empty() => {
                    let v = v.to_ascii_lowercase();
                    if !def.choices.contains(&v.as_str()) {
                        return Err(format!(
                            "{key} must be one of {}, got {v:?}",
                            def.choices.join(", ")
                        ));
                    }
                    next.insert(key, v);
                }
                Some(v) => {
                    let n: i64 = v
                        .parse()
                        .map_err(|_| format!("{key}: expected an integer, got {v:?}"))?;
                    let (min, max) = (props.long(def.min_key), props.long(def.max_key));
                    if n < min || n > max {
                        return Err(format!(
                            "{key} must be between {min} and {max} ({} and {}), got {n}",
                            def.min_key, def.max_key
                        ));
                    }
                    next.insert(key, n.to_string());
                }
            }
        }
        if validate_only {
            return Ok(());
        }
        let previous = if next.is_empty() {
            self.by_group.remove(group)
        } else {
            self.by_group.insert(group.to_string(), next)
        };
        if let Err(e) = self.save() {
            match previous {
                Some(p) => self.by_group.insert(group.to_string(), p),
                None => self.by_group.remove(group),
            };
            return Err(format!("storing group configs failed: {e}"));
        }
        Ok(())
    }

    /// A group's setting of `name` as set, if set.
    pub fn value(&self, group: &str, name: &str) -> Option<&str> {
        self.by_group.get(group)?.get(name).map(String::as_str)
    }

    /// Forgets a group's settings (DeleteGroups).
    pub fn remove_group(&mut self, group: &str) -> io::Result<()> {
        if self.by_group.remove(group).is_some() {
            self.save()?;
        }
        Ok(())
    }

    /// A group's setting of `name` in milliseconds, if set.
    pub fn millis(&self, group: &str, name: &str) -> Option<Duration> {
        let v: u64 = self.by_group.get(group)?.get(name)?.parse().ok()?;
        Some(Duration::from_millis(v))
    }

    fn save(&self) -> io::Result<()> {
        let mut groups: Vec<_> = self.by_group.iter().collect();
        groups.sort();
        let mut text = String::new();
        for (g, kv) in groups {
            for (k, v) in kv {
                text.push_str(&format!("{} {k}={v}\n", hex(g)));
            }
        }
        write_file_atomically(&self.path, text.as_bytes())
    }
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_validate_persist_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let props = BrokerProperties::default();
        let mut c = GroupConfigs::open(dir.path()).unwrap();
        let set = |k: &str, v: &str| vec![(k.to_string(), Some(v.to_string()))];
        c.alter(
            &props,
            "g 1",
            set("consumer.session.timeout.ms", "50000"),
            false,
        )
        .unwrap();
        let err = c
            .alter(
                &props,
                "g 1",
                set("consumer.session.timeout.ms", "5"),
                false,
            )
            .unwrap_err();
        assert!(err.contains("between"), "{err}");
        assert!(
            c.alter(&props, "g 1", set("no.such", "1"), false)
                .unwrap_err()
                .contains("unknown group config")
        );
        let c = GroupConfigs::open(dir.path()).unwrap();
        assert_eq!(
            c.millis("g 1", "consumer.session.timeout.ms"),
            Some(Duration::from_millis(50000))
        );
        let d = c.describe(&props, "g 1", None);
        assert_eq!(d[0].2, GroupConfigSource::Group);
        assert_eq!(d[1].2, GroupConfigSource::Broker);
        let mut c = c;
        c.alter(
            &props,
            "g 1",
            vec![("consumer.session.timeout.ms".into(), None)],
            false,
        )
        .unwrap();
        assert_eq!(c.millis("g 1", "consumer.session.timeout.ms"), None);
    }
}
