//! The topic registry: names, ids, partition counts and config overrides, persisted as one
//! properties file per topic under `DATA/topics/`, plus the partition logs under
//! `DATA/<topic>-<partition>/` (Kafka's layout).
//!
//! Creation writes the topic file last (it is the commit point); deletion first renames it to
//! `<topic>.properties.deleting` (the tombstone), removes the partition directories, then the
//! tombstone; a deletion interrupted by a crash is finished at start-up from the tombstone.
//! Only directories that the metadata lists and whose `partition.metadata` names the topic's
//! id are ever removed (see [`crate::data_dir`]); anything else in the data directory is left
//! alone.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use uuid::Uuid;

use crate::config::{BrokerProperties, FsyncPolicy, LogConfig, TopicOverrides, validate_overrides};
use crate::data_dir::{self, Claim, Vacancy};
use crate::log::PartitionLog;
use crate::log::index::write_file_atomically;
use crate::partition::Partition;
use crate::time::{now_ms, random_uuid};

/// A Kafka error code with a message for the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicError {
    pub code: i16,
    pub message: String,
}

impl TopicError {
    fn new(code: i16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
    fn io(e: std::io::Error) -> Self {
        Self::new(KAFKA_STORAGE_ERROR, format!("storage error: {e}"))
    }
}

pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
pub const INVALID_TOPIC: i16 = 17;
pub const TOPIC_ALREADY_EXISTS: i16 = 36;
pub const INVALID_PARTITIONS: i16 = 37;
pub const INVALID_REPLICATION_FACTOR: i16 = 38;
pub const INVALID_CONFIG: i16 = 40;
pub const TOPIC_DELETION_DISABLED: i16 = 73;
pub const KAFKA_STORAGE_ERROR: i16 = 56;

/// A topic file renamed to this suffix marks a deletion in progress.
const TOMBSTONE_SUFFIX: &str = ".properties.deleting";

/// The topic Kafka keeps committed offsets in. Ours live in `DATA/__groups/offsets.log`
/// (`crate::group::offsets`), so its partitions stay empty; it exists so clients see the
/// cluster as they see Kafka's (listed as internal, skipped by regex subscriptions).
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Kafka's internal topics (`Topic.isInternal`): marked `is_internal` in Metadata and closed to
/// produce from clients.
pub fn is_internal(name: &str) -> bool {
    matches!(
        name,
        OFFSETS_TOPIC | "__transaction_state" | "__share_group_state"
    )
}

#[derive(Debug)]
pub struct Topic {
    pub name: Arc<str>,
    pub id: Uuid,
    partitions: RwLock<Vec<Arc<Partition>>>,
    overrides: RwLock<TopicOverrides>,
}

impl Topic {
    pub fn partitions(&self) -> Vec<Arc<Partition>> {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
    pub fn partition(&self, index: i32) -> Option<Arc<Partition>> {
        let parts = self.partitions.read().unwrap_or_else(|p| p.into_inner());
        usize::try_from(index)
            .ok()
            .and_then(|i| parts.get(i).cloned())
    }
    pub fn partition_count(&self) -> usize {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
    pub fn overrides(&self) -> TopicOverrides {
        self.overrides
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Kafka's topic name rules: 1–249 chars of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("topic name is empty".into());
    }
    if name == "." || name == ".." {
        return Err(format!("topic name cannot be {name:?}"));
    }
    if name.len() > 249 {
        return Err(format!(
            "topic name is {} characters, the maximum is 249",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "topic name {name:?} contains {c:?}; allowed are ASCII letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

#[derive(Debug, Default)]
struct Maps {
    by_name: HashMap<Arc<str>, Arc<Topic>>,
    by_id: HashMap<Uuid, Arc<Topic>>,
}

#[derive(Debug)]
pub struct TopicRegistry {
    data_dir: PathBuf,
    props: BrokerProperties,
    fsync: FsyncPolicy,
    maps: RwLock<Maps>,
    /// Serializes create/delete/alter so the files and maps change together.
    admin: Mutex<()>,
}

impl TopicRegistry {
    fn topics_dir(data_dir: &Path) -> PathBuf {
        data_dir.join("topics")
    }
    fn topic_file(&self, name: &str) -> PathBuf {
        Self::topics_dir(&self.data_dir).join(format!("{name}.properties"))
    }
    fn partition_dir(&self, name: &str, index: i32) -> PathBuf {
        self.data_dir.join(format!("{name}-{index}"))
    }

    fn tombstone_file(&self, name: &str) -> PathBuf {
        Self::topics_dir(&self.data_dir).join(format!("{name}{TOMBSTONE_SUFFIX}"))
    }

    /// Loads every topic and recovers its partition logs. `claim` says how the data directory
    /// is ours: an older Odradek's (`Legacy`) has its listed partition directories adopted.
    pub fn open(
        data_dir: &Path,
        props: BrokerProperties,
        fsync: FsyncPolicy,
        claim: Claim,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(Self::topics_dir(data_dir))?;
        let reg = Self {
            data_dir: data_dir.to_path_buf(),
            props,
            fsync,
            maps: RwLock::new(Maps::default()),
            admin: Mutex::new(()),
        };
        reg.finish_interrupted_deletions()?;
        let mut maps = Maps::default();
        for entry in std::fs::read_dir(Self::topics_dir(data_dir))? {
            let path = entry?.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".properties"))
            else {
                continue;
            };
            let text = std::fs::read_to_string(&path)?;
            let (id, count, overrides) = parse_topic_file(&text).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?;
            for i in 0..count {
                reg.recover_partition_dir(name, i, id, claim)?;
            }
            let topic = reg.open_topic(name, id, count, overrides)?;
            maps.by_id.insert(id, topic.clone());
            maps.by_name.insert(topic.name.clone(), topic);
        }
        let owned: HashSet<String> = maps
            .by_name
            .values()
            .flat_map(|t| (0..t.partition_count()).map(|i| format!("{}-{i}", t.name)))
            .collect();
        let foreign = data_dir::foreign_entries(data_dir, &owned)?;
        if !foreign.is_empty() {
            tracing::warn!(
                data_dir = %data_dir.display(),
                entries = %foreign.join(", "),
                "the data directory holds entries the broker did not create; they are left alone"
            );
        }
        *reg.maps.write().unwrap_or_else(|p| p.into_inner()) = maps;
        Ok(reg)
    }

    /// Checks (or, for a listed directory without one, writes) the ownership marker of a
    /// partition directory the metadata lists, before its log is opened.
    fn recover_partition_dir(
        &self,
        name: &str,
        index: i32,
        id: Uuid,
        claim: Claim,
    ) -> std::io::Result<()> {
        let dir = self.partition_dir(name, index);
        match data_dir::partition_owner(&dir) {
            Some(owner) if owner == crate::state::kafka_uuid(&id) => Ok(()),
            Some(owner) => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} belongs to topic id {owner}, but topics/{name}.properties says {}; \
                     refusing to open it (move the directory away to start)",
                    dir.display(),
                    crate::state::kafka_uuid(&id)
                ),
            )),
            None if dir.is_dir() => {
                if claim == Claim::Legacy {
                    tracing::info!(dir = %dir.display(), "adopting partition directory of an older Odradek");
                }
                data_dir::write_partition_marker(&dir, id)
            }
            // Missing: the log is created empty and marked in open_topic.
            None => Ok(()),
        }
    }

    /// Removes the partition directories named by deletion tombstones (a crash mid-delete),
    /// checking each directory's marker first.
    fn finish_interrupted_deletions(&self) -> std::io::Result<()> {
        for entry in std::fs::read_dir(Self::topics_dir(&self.data_dir))? {
            let path = entry?.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(TOMBSTONE_SUFFIX))
            else {
                continue;
            };
            let text = std::fs::read_to_string(&path)?;
            let Ok((id, count, _)) = parse_topic_file(&text) else {
                tracing::warn!(file = %path.display(), "unreadable deletion tombstone left alone");
                continue;
            };
            if self.remove_partition_dirs(name, id, count) {
                std::fs::remove_file(&path)?;
                tracing::info!(topic = name, "finished an interrupted topic deletion");
            }
        }
        Ok(())
    }

    /// Removes `name`'s partition directories `0..count` that are marked as `id`'s; returns
    /// whether none of them is left.
    fn remove_partition_dirs(&self, name: &str, id: Uuid, count: i32) -> bool {
        let mut all_gone = true;
        for i in 0..count {
            let dir = self.partition_dir(name, i);
            if !dir.exists() {
                continue;
            }
            if !data_dir::is_owned_by(&dir, id) {
                tracing::warn!(dir = %dir.display(), "not removing a partition directory that is not marked as this topic's");
                continue;
            }
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), "could not remove partition directory: {e}");
                all_gone = false;
            }
        }
        all_gone
    }

    /// Makes sure new partition directories `from..to` of `name` can be created: free, or a
    /// leftover of ours (removed now); a foreign directory refuses the create.
    fn claim_new_partition_dirs(&self, name: &str, from: i32, to: i32) -> Result<(), TopicError> {
        let mut leftovers = Vec::new();
        for i in from..to {
            let dir = self.partition_dir(name, i);
            match data_dir::vacancy(&dir).map_err(TopicError::io)? {
                Vacancy::Free => {}
                Vacancy::Leftover => leftovers.push(dir),
                Vacancy::Foreign => {
                    return Err(TopicError::new(
                        KAFKA_STORAGE_ERROR,
                        format!(
                            "{} already exists and was not created by this broker; it is left alone — move it away or choose another topic name",
                            dir.display()
                        ),
                    ));
                }
            }
        }
        for dir in leftovers {
            tracing::info!(dir = %dir.display(), "removing a partition directory left by an interrupted create or delete");
            std::fs::remove_dir_all(&dir).map_err(TopicError::io)?;
        }
        Ok(())
    }

    fn log_config(&self, overrides: &TopicOverrides) -> LogConfig {
        LogConfig::resolve(&self.props, self.fsync, overrides)
    }

    fn open_topic(
        &self,
        name: &str,
        id: Uuid,
        count: i32,
        overrides: TopicOverrides,
    ) -> std::io::Result<Arc<Topic>> {
        let name: Arc<str> = name.into();
        let cfg = self.log_config(&overrides);
        let now = now_ms();
        let mut parts = Vec::with_capacity(count.max(0) as usize);
        for i in 0..count {
            parts.push(Arc::new(self.open_partition(
                &name,
                id,
                i,
                cfg.clone(),
                now,
            )?));
        }
        Ok(Arc::new(Topic {
            name,
            id,
            partitions: RwLock::new(parts),
            overrides: RwLock::new(overrides),
        }))
    }

    /// Opens (creating if needed) one partition log and marks its directory as `id`'s.
    fn open_partition(
        &self,
        name: &Arc<str>,
        id: Uuid,
        index: i32,
        cfg: LogConfig,
        now: i64,
    ) -> std::io::Result<Partition> {
        let dir = self.partition_dir(name, index);
        let log = PartitionLog::open(&dir, cfg, now)?;
        if !data_dir::is_owned_by(&dir, id) {
            data_dir::write_partition_marker(&dir, id)?;
        }
        Ok(Partition::new(name.clone(), id, index, log))
    }

    /// The data dir: the broker's one log dir (DescribeLogDirs).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
    pub fn props(&self) -> &BrokerProperties {
        &self.props
    }
    pub fn fsync(&self) -> FsyncPolicy {
        self.fsync
    }

    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.maps
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .by_name
            .get(name)
            .cloned()
    }
    pub fn get_by_id(&self, id: &Uuid) -> Option<Arc<Topic>> {
        self.maps
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .by_id
            .get(id)
            .cloned()
    }
    pub fn list(&self) -> Vec<Arc<Topic>> {
        let mut v: Vec<_> = self
            .maps
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .by_name
            .values()
            .cloned()
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }
    pub fn partition(&self, name: &str, index: i32) -> Option<Arc<Partition>> {
        self.get(name)?.partition(index)
    }

    /// Creates a topic (or only validates with `validate_only`). `partitions`/`replication`
    /// of -1 take the broker defaults.
    pub fn create(
        &self,
        name: &str,
        partitions: i32,
        replication: i16,
        overrides: TopicOverrides,
        validate_only: bool,
    ) -> Result<Option<Arc<Topic>>, TopicError> {
        let partitions = self.check_new_topic(name, partitions, &overrides)?;
        let replication = if replication == -1 {
            self.props.default_replication_factor()
        } else {
            replication
        };
        if replication != 1 {
            return Err(TopicError::new(
                INVALID_REPLICATION_FACTOR,
                format!(
                    "unable to replicate the partition {replication} time(s): the target replication factor of {replication} cannot be reached because only 1 broker(s) are registered"
                ),
            ));
        }
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        if self.get(name).is_some() {
            return Err(TopicError::new(
                TOPIC_ALREADY_EXISTS,
                format!("topic '{name}' already exists"),
            ));
        }
        if let Some(collide) = self
            .list()
            .into_iter()
            .find(|t| t.name.replace('.', "_") == name.replace('.', "_"))
        {
            return Err(TopicError::new(
                INVALID_TOPIC,
                format!(
                    "topic '{name}' collides with existing topic '{}' ('.' and '_' are interchangeable in metric names)",
                    collide.name
                ),
            ));
        }
        if validate_only {
            return Ok(None);
        }
        self.materialize(name, random_uuid(), partitions, overrides)
            .map(Some)
    }

    /// What CreateTopics checks before anything is decided: the name, the partition count
    /// (-1 takes `num.partitions`, returned resolved) and the config overrides.
    pub fn check_new_topic(
        &self,
        name: &str,
        partitions: i32,
        overrides: &TopicOverrides,
    ) -> Result<i32, TopicError> {
        validate_topic_name(name).map_err(|m| TopicError::new(INVALID_TOPIC, m))?;
        let partitions = if partitions == -1 {
            self.props.num_partitions()
        } else {
            partitions
        };
        if partitions <= 0 {
            return Err(TopicError::new(
                INVALID_PARTITIONS,
                format!("number of partitions must be larger than 0, got {partitions}"),
            ));
        }
        if partitions > 100_000 {
            return Err(TopicError::new(
                INVALID_PARTITIONS,
                format!("{partitions} partitions is more than this broker allows (100000)"),
            ));
        }
        validate_overrides(overrides).map_err(|m| TopicError::new(INVALID_CONFIG, m))?;
        Ok(partitions)
    }

    /// Cluster mode: opens the local logs of a topic the metadata quorum created, under the
    /// quorum's topic id (no-op when it exists with that id).
    pub fn create_replica(
        &self,
        name: &str,
        id: Uuid,
        partitions: i32,
        overrides: TopicOverrides,
    ) -> Result<Arc<Topic>, TopicError> {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = self.get(name) {
            if t.id == id {
                return Ok(t);
            }
            return Err(TopicError::new(
                TOPIC_ALREADY_EXISTS,
                format!(
                    "topic '{name}' exists locally with id {}, the quorum says {id}",
                    t.id
                ),
            ));
        }
        self.materialize(name, id, partitions, overrides)
    }

    /// Creates the topic's files and registers it; the caller holds `admin`.
    fn materialize(
        &self,
        name: &str,
        id: Uuid,
        partitions: i32,
        overrides: TopicOverrides,
    ) -> Result<Arc<Topic>, TopicError> {
        self.claim_new_partition_dirs(name, 0, partitions)?;
        let topic = self
            .open_topic(name, id, partitions, overrides)
            .map_err(TopicError::io)?;
        self.write_topic_file(&topic).map_err(TopicError::io)?;
        let mut maps = self.maps.write().unwrap_or_else(|p| p.into_inner());
        maps.by_id.insert(id, topic.clone());
        maps.by_name.insert(topic.name.clone(), topic.clone());
        tracing::info!(topic = name, partitions, "created topic");
        Ok(topic)
    }

    fn write_topic_file(&self, topic: &Topic) -> std::io::Result<()> {
        let mut text = format!(
            "topic.id={}\npartitions={}\n",
            topic.id,
            topic.partition_count()
        );
        for (k, v) in topic.overrides() {
            text.push_str(&format!("config.{k}={v}\n"));
        }
        write_file_atomically(&self.topic_file(&topic.name), text.as_bytes())?;
        std::fs::File::open(Self::topics_dir(&self.data_dir))?.sync_all()
    }

    /// Creates `__consumer_offsets` unless it exists, as Kafka does on the first lookup of a
    /// group coordinator: `offsets.topic.num.partitions` partitions, compacted.
    pub fn ensure_offsets_topic(&self) -> Result<Arc<Topic>, TopicError> {
        if let Some(t) = self.get(OFFSETS_TOPIC) {
            return Ok(t);
        }
        let mut overrides = TopicOverrides::new();
        overrides.insert("cleanup.policy".into(), "compact".into());
        overrides.insert("compression.type".into(), "producer".into());
        overrides.insert(
            "segment.bytes".into(),
            self.props.offsets_topic_segment_bytes().to_string(),
        );
        let partitions = self.props.offsets_topic_num_partitions();
        match self.create(OFFSETS_TOPIC, partitions, -1, overrides, false) {
            Ok(Some(t)) => Ok(t),
            Ok(None) => Err(TopicError::new(
                UNKNOWN_TOPIC_OR_PARTITION,
                "internal topic creation was only validated",
            )),
            // Created concurrently by another request.
            Err(e) if e.code == TOPIC_ALREADY_EXISTS => self.get(OFFSETS_TOPIC).ok_or(e),
            Err(e) => Err(e),
        }
    }

    /// Deletes a topic and its data.
    pub fn delete(&self, name: &str) -> Result<Arc<Topic>, TopicError> {
        if !self.props.delete_topic_enable() {
            return Err(TopicError::new(
                TOPIC_DELETION_DISABLED,
                "topic deletion is disabled (delete.topic.enable=false)",
            ));
        }
        self.remove(name)
    }

    /// Deletes a topic and its data without asking `delete.topic.enable` (cluster mode: the
    /// quorum has decided).
    pub fn remove(&self, name: &str) -> Result<Arc<Topic>, TopicError> {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let topic = self.get(name).ok_or_else(|| {
            TopicError::new(
                UNKNOWN_TOPIC_OR_PARTITION,
                format!("topic '{name}' does not exist"),
            )
        })?;
        // The rename is the commit point: the topic is gone, and the tombstone says which
        // directories to remove should this be interrupted.
        std::fs::rename(self.topic_file(name), self.tombstone_file(name))
            .map_err(TopicError::io)?;
        std::fs::File::open(Self::topics_dir(&self.data_dir))
            .and_then(|d| d.sync_all())
            .map_err(TopicError::io)?;
        {
            let mut maps = self.maps.write().unwrap_or_else(|p| p.into_inner());
            maps.by_name.remove(name);
            maps.by_id.remove(&topic.id);
        }
        let partitions = topic.partitions();
        if self.remove_partition_dirs(name, topic.id, partitions.len() as i32)
            && let Err(e) = std::fs::remove_file(self.tombstone_file(name))
        {
            tracing::warn!(topic = name, "could not remove the deletion tombstone: {e}");
        }
        for p in partitions {
            // Wake long polls so they answer (with an error) now.
            p.data_arrived.notify_waiters();
        }
        tracing::info!(topic = name, "deleted topic");
        Ok(topic)
    }

    /// CreatePartitions: grows a topic to `total` partitions.
    pub fn add_partitions(
        &self,
        name: &str,
        total: i32,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let topic = self.get(name).ok_or_else(|| {
            TopicError::new(
                UNKNOWN_TOPIC_OR_PARTITION,
                format!("topic '{name}' does not exist"),
            )
        })?;
        let current = topic.partition_count() as i32;
        if total < current {
            return Err(TopicError::new(
                INVALID_PARTITIONS,
                format!(
                    "topic currently has {current} partitions, which is higher than the requested {total}"
                ),
            ));
        }
        if total == current {
            return Err(TopicError::new(
                INVALID_PARTITIONS,
                format!("topic already has {current} partitions"),
            ));
        }
        if total > 100_000 {
            return Err(TopicError::new(
                INVALID_PARTITIONS,
                format!("{total} partitions is more than this broker allows (100000)"),
            ));
        }
        if validate_only {
            return Ok(());
        }
        self.claim_new_partition_dirs(name, current, total)?;
        let cfg = self.log_config(&topic.overrides());
        let now = now_ms();
        let mut new = Vec::new();
        for i in current..total {
            let p = self
                .open_partition(&topic.name, topic.id, i, cfg.clone(), now)
                .map_err(TopicError::io)?;
            new.push(Arc::new(p));
        }
        topic
            .partitions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .extend(new);
        self.write_topic_file(&topic).map_err(TopicError::io)?;
        Ok(())
    }

    /// Replaces (AlterConfigs) or edits (IncrementalAlterConfigs) a topic's overrides.
    pub fn alter_config(
        &self,
        name: &str,
        edit: impl FnOnce(&mut TopicOverrides),
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let topic = self.get(name).ok_or_else(|| {
            TopicError::new(
                UNKNOWN_TOPIC_OR_PARTITION,
                format!("topic '{name}' does not exist"),
            )
        })?;
        let mut overrides = topic.overrides();
        edit(&mut overrides);
        validate_overrides(&overrides).map_err(|m| TopicError::new(INVALID_CONFIG, m))?;
        if validate_only {
            return Ok(());
        }
        let cfg = self.log_config(&overrides);
        *topic.overrides.write().unwrap_or_else(|p| p.into_inner()) = overrides;
        self.write_topic_file(&topic).map_err(TopicError::io)?;
        for p in topic.partitions() {
            p.log().set_config(cfg.clone());
        }
        Ok(())
    }

    /// Every partition of every topic.
    pub fn all_partitions(&self) -> Vec<Arc<Partition>> {
        self.list().iter().flat_map(|t| t.partitions()).collect()
    }

    /// Flushes and closes every log (clean shutdown). Closing is mostly waiting for fsyncs, so
    /// it runs on several threads: one partition after another, 5,000 partitions took 13–23 s.
    pub fn close_all(&self) {
        let parts = self.all_partitions();
        let started = std::time::Instant::now();
        let next = AtomicUsize::new(0);
        let threads = CLOSE_THREADS.min(parts.len()).max(1);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    while let Some(p) = parts.get(next.fetch_add(1, Ordering::Relaxed)) {
                        if let Err(e) = p.log().close() {
                            tracing::error!(topic = %p.topic, partition = p.index, "closing log failed: {e}");
                        }
                    }
                });
            }
        });
        tracing::info!(
            partitions = parts.len(),
            threads,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "flushed and closed every log"
        );
    }
}

/// Threads that flush logs in parallel at shutdown.
const CLOSE_THREADS: usize = 16;

fn parse_topic_file(text: &str) -> Result<(Uuid, i32, TopicOverrides), String> {
    let mut id = None;
    let mut count = None;
    let mut overrides = TopicOverrides::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k {
            "topic.id" => id = Some(Uuid::parse_str(v).map_err(|e| format!("bad topic.id: {e}"))?),
            "partitions" => {
                count = Some(
                    v.parse::<i32>()
                        .map_err(|e| format!("bad partitions: {e}"))?,
                )
            }
            _ => {
                if let Some(key) = k.strip_prefix("config.") {
                    overrides.insert(key.to_string(), v.to_string());
                }
            }
        }
    }
    Ok((
        id.ok_or("missing topic.id")?,
        count.ok_or("missing partitions")?,
        overrides,
    ))
}
