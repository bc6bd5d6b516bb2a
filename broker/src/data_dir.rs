//! What in the data directory belongs to the broker. Users point `--data-dir` at existing
//! folders, so the broker touches only what it created:
//!
//! - `odradek-data-dir.properties` marks a data directory the broker created (layout version);
//! - `partition.metadata` (Kafka's file and format) in each partition directory names the topic
//!   id that owns it; only directories listed by the topic metadata under `topics/` are opened.
//!
//! A non-empty directory without the marker is refused, as Kafka refuses an unformatted log
//! directory — except a data directory of an older Odradek (it has `meta.properties` and
//! `topics/`), which is adopted: the partition directories of its known topics get their
//! `partition.metadata`, everything else is left alone. Foreign entries are warned about and
//! never removed.

use std::collections::HashSet;
use std::io;
use std::path::Path;

use uuid::Uuid;

use crate::log::index::write_file_atomically;

/// The file that marks a data directory as created by this broker.
pub const MARKER_FILE: &str = "odradek-data-dir.properties";

/// The file in a partition directory naming the topic id that owns it (Kafka's name).
pub const PARTITION_MARKER: &str = "partition.metadata";

/// Layout version written to the marker; an unknown newer version is refused.
const LAYOUT_VERSION: u32 = 2;

/// Entries the broker itself creates at the top of the data directory (besides partition
/// directories).
const OWN_ENTRIES: &[&str] = &[
    MARKER_FILE,
    "meta.properties",
    "topics",
    "producer-id-block",
    "__groups",
    "__transactions",
    "__share",
    // Cluster mode: the metadata quorum's log and snapshots (odradek-cluster's store).
    "__cluster_metadata-0",
    crate::security::SECURITY_DIR,
];

/// How the data directory came to be ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Empty or missing: created now, marker written.
    New,
    /// Holds our marker.
    Owned,
    /// An older Odradek's data directory (no marker): adopt, then [`finish_migration`].
    Legacy,
}

/// Decides whether the broker may use `dir`, creating it (with the marker) when new. The
/// error for a foreign directory says why and what to do.
pub fn claim(dir: &Path) -> io::Result<Claim> {
    std::fs::create_dir_all(dir)?;
    let marker = dir.join(MARKER_FILE);
    if let Ok(text) = std::fs::read_to_string(&marker) {
        let version = text
            .lines()
            .find_map(|l| l.strip_prefix("layout.version="))
            .and_then(|v| v.trim().parse::<u32>().ok())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: no layout.version", marker.display()),
                )
            })?;
        if version > LAYOUT_VERSION {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: layout version {version} is newer than this broker supports ({LAYOUT_VERSION}); use a newer odradek-broker",
                    marker.display()
                ),
            ));
        }
        return Ok(Claim::Owned);
    }
    if std::fs::read_dir(dir)?.next().is_none() {
        write_marker(dir)?;
        return Ok(Claim::New);
    }
    if dir.join("meta.properties").is_file() && dir.join("topics").is_dir() {
        return Ok(Claim::Legacy);
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "data directory {} is not empty and was not created by odradek-broker (no {MARKER_FILE}); \
             refusing to use it so that nothing in it is changed — point --data-dir at a new or empty directory",
            dir.display()
        ),
    ))
}

/// Marks an adopted older data directory as ours, once its partitions carry their markers.
pub fn finish_migration(dir: &Path) -> io::Result<()> {
    write_marker(dir)
}

fn write_marker(dir: &Path) -> io::Result<()> {
    let text = format!(
        "# Created by odradek-broker: this directory and the partition directories listed under\n\
         # topics/ belong to the broker; other entries are never touched.\n\
         layout.version={LAYOUT_VERSION}\n"
    );
    write_file_atomically(&dir.join(MARKER_FILE), text.as_bytes())?;
    std::fs::File::open(dir)?.sync_all()
}

/// Writes `partition.metadata` (Kafka's format) into a partition directory.
pub fn write_partition_marker(partition_dir: &Path, topic_id: Uuid) -> io::Result<()> {
    let text = format!(
        "version: 0\ntopic_id: {}\n",
        crate::state::kafka_uuid(&topic_id)
    );
    write_file_atomically(&partition_dir.join(PARTITION_MARKER), text.as_bytes())
}

/// The topic id (Kafka's rendering) a partition directory's marker names, if it has one.
pub fn partition_owner(partition_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(partition_dir.join(PARTITION_MARKER)).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("topic_id:"))
        .map(|v| v.trim().to_string())
}

/// Whether `partition_dir` is marked as belonging to `topic_id`.
pub fn is_owned_by(partition_dir: &Path, topic_id: Uuid) -> bool {
    partition_owner(partition_dir).as_deref() == Some(crate::state::kafka_uuid(&topic_id).as_str())
}

/// What a new partition directory may be created over.
#[derive(Debug, PartialEq, Eq)]
pub enum Vacancy {
    /// Nothing there, or an empty directory.
    Free,
    /// A directory of ours left behind by an interrupted create or delete: safe to remove.
    Leftover,
    /// Someone else's directory: never touched.
    Foreign,
}

/// Looks at `partition_dir` before a topic or partition is created there.
pub fn vacancy(partition_dir: &Path) -> io::Result<Vacancy> {
    match std::fs::read_dir(partition_dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vacancy::Free),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => Ok(Vacancy::Foreign),
        Err(e) => Err(e),
        Ok(mut entries) => {
            if entries.next().is_none() {
                Ok(Vacancy::Free)
            } else if partition_owner(partition_dir).is_some() {
                Ok(Vacancy::Leftover)
            } else {
                Ok(Vacancy::Foreign)
            }
        }
    }
}

/// Top-level entries of the data directory that the broker did not create, given the names of
/// the partition directories its metadata lists.
pub fn foreign_entries(dir: &Path, owned_partitions: &HashSet<String>) -> io::Result<Vec<String>> {
    let mut foreign = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let own = OWN_ENTRIES
            .iter()
            .any(|o| name == *o || (name.starts_with(o) && name.ends_with(".tmp")))
            || owned_partitions.contains(&name);
        if !own {
            foreign.push(name);
        }
    }
    foreign.sort();
    Ok(foreign)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_owned_legacy_and_foreign_directories() {
        let root = tempfile::tempdir().unwrap();
        let fresh = root.path().join("fresh");
        assert_eq!(claim(&fresh).unwrap(), Claim::New);
        assert_eq!(claim(&fresh).unwrap(), Claim::Owned);

        let legacy = root.path().join("legacy");
        std::fs::create_dir_all(legacy.join("topics")).unwrap();
        std::fs::write(legacy.join("meta.properties"), "cluster.id=x\n").unwrap();
        assert_eq!(claim(&legacy).unwrap(), Claim::Legacy);
        finish_migration(&legacy).unwrap();
        assert_eq!(claim(&legacy).unwrap(), Claim::Owned);

        let home = root.path().join("home");
        std::fs::create_dir_all(home.join("photos-1")).unwrap();
        let err = claim(&home).unwrap_err().to_string();
        assert!(err.contains("not created by odradek-broker"), "{err}");
        assert!(home.join("photos-1").is_dir());
        assert!(!home.join(MARKER_FILE).exists());
    }

    #[test]
    fn partition_markers_decide_what_may_be_replaced() {
        let root = tempfile::tempdir().unwrap();
        let id = Uuid::from_u128(7);
        let p = root.path().join("t-0");
        assert_eq!(vacancy(&p).unwrap(), Vacancy::Free);
        std::fs::create_dir_all(&p).unwrap();
        assert_eq!(vacancy(&p).unwrap(), Vacancy::Free);
        std::fs::write(p.join("notes.txt"), "mine").unwrap();
        assert_eq!(vacancy(&p).unwrap(), Vacancy::Foreign);
        write_partition_marker(&p, id).unwrap();
        assert_eq!(vacancy(&p).unwrap(), Vacancy::Leftover);
        assert!(is_owned_by(&p, id));
        assert!(!is_owned_by(&p, Uuid::from_u128(8)));
        let owned: HashSet<String> = ["t-0".to_string()].into();
        std::fs::write(root.path().join("meta.properties.tmp"), "").unwrap();
        std::fs::create_dir(root.path().join("backup-2024")).unwrap();
        assert_eq!(
            foreign_entries(root.path(), &owned).unwrap(),
            vec!["backup-2024".to_string()]
        );
    }
}
