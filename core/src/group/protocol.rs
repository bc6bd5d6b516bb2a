//! The consumer protocol's JoinGroup metadata (Subscription) and SyncGroup payload
//! (Assignment), byte-compatible with the Java client's ConsumerProtocol (versions 0-3, not
//! flexible) so our members, Java and librdkafka members share groups.
//!
//! Subscription: `version i16, topics [string], user_data nullable bytes, (v1+) owned
//! partitions [topic string, partitions [i32]], (v2+) generation i32, (v3+) rack nullable string`.
//! Assignment: `version i16, partitions [topic string, partitions [i32]], user_data nullable bytes`.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{Error, Result};

/// The highest version we write.
pub const VERSION: i16 = 3;

/// (topic, partitions) pairs, topics sorted.
pub type TopicPartitions = Vec<(String, Vec<i32>)>;

/// What a member sends in JoinGroup: the topics it wants, and (cooperative) what it owns now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    /// The encoding version (0-3); fields of later versions are left out of older ones.
    pub version: i16,
    /// The topics the member subscribes to.
    pub topics: Vec<String>,
    /// Assignor-specific data (opaque to the protocol), `None` when the assignor has none.
    pub user_data: Option<Bytes>,
    /// Partitions the member owns now (v1+), so a cooperative assignor can keep them in place.
    pub owned: TopicPartitions,
    /// The generation in which `owned` was assigned (v2+); -1 when unknown.
    pub generation: i32,
    /// The member's `client.rack` (v3+), for rack-aware assignors; this client sends none.
    pub rack: Option<String>,
}

/// What the leader hands each member through SyncGroup: the partitions it now owns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// The member's partitions, by topic.
    pub partitions: TopicPartitions,
    /// Assignor-specific data passed back to the member; `None` when the assignor has none.
    pub user_data: Option<Bytes>,
}

fn put_str(b: &mut BytesMut, s: &str) {
    b.put_i16(s.len() as i16);
    b.put_slice(s.as_bytes());
}

fn put_bytes(b: &mut BytesMut, v: &Option<Bytes>) {
    match v {
        Some(v) => {
            b.put_i32(v.len() as i32);
            b.put_slice(v);
        }
        None => b.put_i32(-1),
    }
}

fn put_partitions(b: &mut BytesMut, tps: &TopicPartitions) {
    b.put_i32(tps.len() as i32);
    for (t, ps) in tps {
        put_str(b, t);
        b.put_i32(ps.len() as i32);
        for p in ps {
            b.put_i32(*p);
        }
    }
}

impl Subscription {
    /// The JoinGroup protocol metadata bytes at `self.version`.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i16(self.version);
        b.put_i32(self.topics.len() as i32);
        for t in &self.topics {
            put_str(&mut b, t);
        }
        put_bytes(&mut b, &self.user_data);
        if self.version >= 1 {
            put_partitions(&mut b, &self.owned);
        }
        if self.version >= 2 {
            b.put_i32(self.generation);
        }
        if self.version >= 3 {
            match &self.rack {
                Some(r) => put_str(&mut b, r),
                None => b.put_i16(-1),
            }
        }
        b.freeze()
    }

    /// Decodes any version; fields of versions above 3 are ignored (they are appended).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader(bytes);
        let version = r.i16()?;
        let mut s = Subscription {
            version,
            generation: -1,
            ..Self::default()
        };
        let n = r.count()?;
        for _ in 0..n {
            s.topics.push(r.string()?);
        }
        // Version 0 members may stop after the topics.
        if r.0.is_empty() {
            return Ok(s);
        }
        s.user_data = r.nullable_bytes()?;
        if version >= 1 {
            s.owned = r.partitions()?;
        }
        if version >= 2 {
            s.generation = r.i32()?;
        }
        if version >= 3 {
            s.rack = r.nullable_string()?;
        }
        Ok(s)
    }
}

impl Assignment {
    /// The SyncGroup assignment bytes; `version` is clamped to the range this client writes
    /// (0-3), and the layout is the same in all of them.
    pub fn encode(&self, version: i16) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i16(version.clamp(0, VERSION));
        put_partitions(&mut b, &self.partitions);
        put_bytes(&mut b, &self.user_data);
        b.freeze()
    }

    /// An empty payload is an empty assignment (what a coordinator sends members the leader
    /// left out).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.is_empty() {
            return Ok(Self::default());
        }
        let mut r = Reader(bytes);
        let _version = r.i16()?;
        let partitions = r.partitions()?;
        let user_data = if r.0.is_empty() {
            None
        } else {
            r.nullable_bytes()?
        };
        Ok(Assignment {
            partitions,
            user_data,
        })
    }
}

struct Reader<'a>(&'a [u8]);

fn malformed(what: &str) -> Error {
    Error::invalid_argument(format!(
        "malformed consumer protocol payload: {what} (a group member sent bad metadata; not retriable)"
    ))
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if self.0.len() < n {
            return Err(malformed("truncated"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn i16(&mut self) -> Result<i16> {
        Ok(i16::from_be_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    /// An array count, checked against the bytes left (each element takes at least 2).
    fn count(&mut self) -> Result<usize> {
        let n = self.i32()?;
        if n < 0 {
            return Ok(0);
        }
        if n as usize > self.0.len() / 2 {
            return Err(malformed("array count larger than the payload"));
        }
        Ok(n as usize)
    }
    fn string(&mut self) -> Result<String> {
        let n = self.i16()?;
        if n < 0 {
            return Err(malformed("null topic name"));
        }
        let b = self.take(n as usize)?;
        String::from_utf8(b.to_vec()).map_err(|_| malformed("topic name is not UTF-8"))
    }
    fn nullable_string(&mut self) -> Result<Option<String>> {
        let n = self.i16()?;
        if n < 0 {
            return Ok(None);
        }
        let b = self.take(n as usize)?;
        Ok(Some(String::from_utf8_lossy(b).into_owned()))
    }
    fn nullable_bytes(&mut self) -> Result<Option<Bytes>> {
        let n = self.i32()?;
        if n < 0 {
            return Ok(None);
        }
        Ok(Some(Bytes::copy_from_slice(self.take(n as usize)?)))
    }
    fn partitions(&mut self) -> Result<TopicPartitions> {
        let n = self.count()?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let topic = self.string()?;
            let m = self.count()?;
            let mut ps = Vec::with_capacity(m);
            for _ in 0..m {
                ps.push(self.i32()?);
            }
            out.push((topic, ps));
        }
        Ok(out)
    }
}

/// The topics of an OffsetCommit request: `(topic, partition, offset)` grouped by topic.
pub(crate) fn offset_commit_topics(
    offsets: &[(String, i32, i64)],
) -> Vec<kafka_protocol::messages::offset_commit_request::OffsetCommitRequestTopic> {
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    let mut by_topic: std::collections::BTreeMap<&str, Vec<(i32, i64)>> = Default::default();
    for (t, p, o) in offsets {
        by_topic.entry(t).or_default().push((*p, *o));
    }
    by_topic
        .into_iter()
        .map(|(t, ps)| {
            let mut rt = OffsetCommitRequestTopic::default();
            rt.name = TopicName(kafka_protocol::protocol::StrBytes::from_string(
                t.to_owned(),
            ));
            for (p, o) in ps {
                let mut rp = OffsetCommitRequestPartition::default();
                rp.partition_index = p;
                rp.committed_offset = o;
                rt.partitions.push(rp);
            }
            rt
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_java_layout() {
        let s = Subscription {
            version: 3,
            topics: vec!["a".into()],
            user_data: None,
            owned: vec![("a".into(), vec![1])],
            generation: 4,
            rack: None,
        };
        let b = s.encode();
        // version, 1 topic "a", null user data, 1 owned topic "a" [1], generation 4, null rack
        assert_eq!(
            &b[..],
            &[
                0, 3, 0, 0, 0, 1, 0, 1, b'a', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 1, b'a', 0, 0,
                0, 1, 0, 0, 0, 1, 0, 0, 0, 4, 0xff, 0xff
            ]
        );
        assert_eq!(Subscription::decode(&b).unwrap(), s);
        let a = Assignment {
            partitions: vec![("a".into(), vec![0, 2])],
            user_data: None,
        };
        assert_eq!(Assignment::decode(&a.encode(3)).unwrap(), a);
        assert_eq!(Assignment::decode(&[]).unwrap(), Assignment::default());
    }

    #[test]
    fn hostile_counts_are_errors() {
        assert!(Subscription::decode(&[0, 0, 0x7f, 0xff, 0xff, 0xff]).is_err());
        assert!(Assignment::decode(&[0, 0, 0, 0, 0, 1, 0, 9]).is_err());
        assert!(Subscription::decode(&[0]).is_err());
    }
}
