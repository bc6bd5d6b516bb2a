//! A pre-decode check of array lengths in requests.
//!
//! kafka-protocol 0.18 sizes `Vec::with_capacity` from array counts read off the wire, so one
//! small request claiming billions of elements makes the allocator abort the whole process
//! (upstream kafka-protocol-rs PRs #152/#161/#200, unreleased). Every array element takes at
//! least one byte, so a count larger than the bytes left is impossible; this walker follows the
//! request layouts of the APIs we serve and refuses such counts before the real decoder runs.
//! It only needs to be exact about where arrays are: a request it cannot follow is left to the
//! decoder, which reports ordinary errors safely.

use kafka_protocol::messages::ApiKey;

/// Field types as they appear on the wire.
#[derive(Debug, Clone, Copy)]
enum Ty {
    I8,
    I16,
    I32,
    I64,
    Uuid,
    Bool,
    /// STRING / COMPACT_STRING (nullable or not: the length rules are the same for walking).
    Str,
    /// BYTES / RECORDS (nullable).
    Bytes,
    Array(&'static [Field]),
    ArrayI32,
    ArrayStr,
}

/// A field present in versions `min..=max`.
#[derive(Debug, Clone, Copy)]
struct Field {
    min: i16,
    max: i16,
    ty: Ty,
}

const fn f(min: i16, max: i16, ty: Ty) -> Field {
    Field { min, max, ty }
}
const ALL: i16 = i16::MAX;

/// (first flexible version, top-level fields) per API.
fn layout(api: ApiKey) -> Option<(i16, &'static [Field])> {
    use Ty::*;
    const PRODUCE_PARTITION: &[Field] = &[f(0, ALL, I32), f(0, ALL, Bytes)];
    const PRODUCE_TOPIC: &[Field] = &[
        f(0, 12, Str),
        f(13, ALL, Uuid),
        f(0, ALL, Array(PRODUCE_PARTITION)),
    ];
    const PRODUCE: &[Field] = &[
        f(3, ALL, Str),
        f(0, ALL, I16),
        f(0, ALL, I32),
        f(0, ALL, Array(PRODUCE_TOPIC)),
    ];

    const FETCH_PARTITION: &[Field] = &[
        f(0, ALL, I32),
        f(9, ALL, I32),
        f(0, ALL, I64),
        f(12, ALL, I32),
        f(5, ALL, I64),
        f(0, ALL, I32),
    ];
    const FETCH_TOPIC: &[Field] = &[
        f(0, 12, Str),
        f(13, ALL, Uuid),
        f(0, ALL, Array(FETCH_PARTITION)),
    ];
    const FORGOTTEN: &[Field] = &[f(0, 12, Str), f(13, ALL, Uuid), f(0, ALL, ArrayI32)];
    const FETCH: &[Field] = &[
        f(0, 14, I32),
        f(0, ALL, I32),
        f(0, ALL, I32),
        f(3, ALL, I32),
        f(4, ALL, I8),
        f(7, ALL, I32),
        f(7, ALL, I32),
        f(0, ALL, Array(FETCH_TOPIC)),
        f(7, ALL, Array(FORGOTTEN)),
        f(11, ALL, Str),
    ];

    const LO_PARTITION: &[Field] = &[f(0, ALL, I32), f(4, ALL, I32), f(0, ALL, I64), f(0, 0, I32)];
    const LO_TOPIC: &[Field] = &[f(0, ALL, Str), f(0, ALL, Array(LO_PARTITION))];
    const LIST_OFFSETS: &[Field] = &[
        f(0, ALL, I32),
        f(2, ALL, I8),
        f(0, ALL, Array(LO_TOPIC)),
        f(10, ALL, I32),
    ];

    const MD_TOPIC: &[Field] = &[f(10, ALL, Uuid), f(0, ALL, Str)];
    const METADATA: &[Field] = &[
        f(0, ALL, Array(MD_TOPIC)),
        f(4, ALL, Bool),
        f(8, 10, Bool),
        f(8, ALL, Bool),
    ];

    const CT_ASSIGN: &[Field] = &[f(0, ALL, I32), f(0, ALL, ArrayI32)];
    const CT_CONFIG: &[Field] = &[f(0, ALL, Str), f(0, ALL, Str)];
    const CT_TOPIC: &[Field] = &[
        f(0, ALL, Str),
        f(0, ALL, I32),
        f(0, ALL, I16),
        f(0, ALL, Array(CT_ASSIGN)),
        f(0, ALL, Array(CT_CONFIG)),
    ];
    const CREATE_TOPICS: &[Field] = &[f(0, ALL, Array(CT_TOPIC)), f(0, ALL, I32), f(1, ALL, Bool)];

    const DT_TOPIC: &[Field] = &[f(0, ALL, Str), f(0, ALL, Uuid)];
    const DELETE_TOPICS: &[Field] = &[
        f(6, ALL, Array(DT_TOPIC)),
        f(0, 5, ArrayStr),
        f(0, ALL, I32),
    ];

    const DR_PARTITION: &[Field] = &[f(0, ALL, I32), f(0, ALL, I64)];
    const DR_TOPIC: &[Field] = &[f(0, ALL, Str), f(0, ALL, Array(DR_PARTITION))];
    const DELETE_RECORDS: &[Field] = &[f(0, ALL, Array(DR_TOPIC)), f(0, ALL, I32)];

    const OE_PARTITION: &[Field] = &[f(0, ALL, I32), f(2, ALL, I32), f(0, ALL, I32)];
    const OE_TOPIC: &[Field] = &[f(0, ALL, Str), f(0, ALL, Array(OE_PARTITION))];
    const OFFSET_FOR_EPOCH: &[Field] = &[f(3, ALL, I32), f(0, ALL, Array(OE_TOPIC))];

    const DC_RESOURCE: &[Field] = &[f(0, ALL, I8), f(0, ALL, Str), f(0, ALL, ArrayStr)];
    const DESCRIBE_CONFIGS: &[Field] = &[
        f(0, ALL, Array(DC_RESOURCE)),
        f(1, ALL, Bool),
        f(3, ALL, Bool),
    ];

    const AC_CONFIG: &[Field] = &[f(0, ALL, Str), f(0, ALL, Str)];
    const AC_RESOURCE: &[Field] = &[f(0, ALL, I8), f(0, ALL, Str), f(0, ALL, Array(AC_CONFIG))];
    const ALTER_CONFIGS: &[Field] = &[f(0, ALL, Array(AC_RESOURCE)), f(0, ALL, Bool)];

    const CP_ASSIGN: &[Field] = &[f(0, ALL, ArrayI32)];
    const CP_TOPIC: &[Field] = &[f(0, ALL, Str), f(0, ALL, I32), f(0, ALL, Array(CP_ASSIGN))];
    const CREATE_PARTITIONS: &[Field] =
        &[f(0, ALL, Array(CP_TOPIC)), f(0, ALL, I32), f(0, ALL, Bool)];

    const IAC_CONFIG: &[Field] = &[f(0, ALL, Str), f(0, ALL, I8), f(0, ALL, Str)];
    const IAC_RESOURCE: &[Field] = &[f(0, ALL, I8), f(0, ALL, Str), f(0, ALL, Array(IAC_CONFIG))];
    const INCREMENTAL_ALTER: &[Field] = &[f(0, ALL, Array(IAC_RESOURCE)), f(0, ALL, Bool)];

    Some(match api {
        ApiKey::Produce => (9, PRODUCE),
        ApiKey::Fetch => (12, FETCH),
        ApiKey::ListOffsets => (6, LIST_OFFSETS),
        ApiKey::Metadata => (9, METADATA),
        ApiKey::CreateTopics => (5, CREATE_TOPICS),
        ApiKey::DeleteTopics => (4, DELETE_TOPICS),
        ApiKey::DeleteRecords => (2, DELETE_RECORDS),
        ApiKey::OffsetForLeaderEpoch => (4, OFFSET_FOR_EPOCH),
        ApiKey::DescribeConfigs => (4, DESCRIBE_CONFIGS),
        ApiKey::AlterConfigs => (2, ALTER_CONFIGS),
        ApiKey::CreatePartitions => (2, CREATE_PARTITIONS),
        ApiKey::IncrementalAlterConfigs => (1, INCREMENTAL_ALTER),
        // No arrays in their bodies.
        _ => return None,
    })
}

/// Why a request was refused before decoding.
#[derive(Debug, PartialEq, Eq)]
pub struct ImpossibleCount {
    pub count: u64,
    pub remaining: usize,
    pub position: usize,
}

impl std::fmt::Display for ImpossibleCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "array at byte {} claims {} elements but only {} bytes remain",
            self.position, self.count, self.remaining
        )
    }
}

/// Ran out of bytes or met something unexpected: not our call, the decoder will say.
struct Stop;

enum Walk {
    Stop(Stop),
    Refuse(ImpossibleCount),
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
    flexible: bool,
}

impl Cursor<'_> {
    fn remaining(&self) -> usize {
        self.b.len() - self.at
    }
    fn skip(&mut self, n: usize) -> Result<(), Walk> {
        if self.remaining() < n {
            return Err(Walk::Stop(Stop));
        }
        self.at += n;
        Ok(())
    }
    fn int(&mut self, n: usize) -> Result<i64, Walk> {
        let s = self.b.get(self.at..self.at + n).ok_or(Walk::Stop(Stop))?;
        self.at += n;
        Ok(s.iter().fold(0i64, |a, &x| (a << 8) | x as i64))
    }
    fn uvarint(&mut self) -> Result<u64, Walk> {
        let mut v = 0u64;
        for i in 0..5 {
            let b = *self.b.get(self.at).ok_or(Walk::Stop(Stop))?;
            self.at += 1;
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(Walk::Stop(Stop))
    }
    /// Length of a string/bytes field (-1 = null).
    fn len(&mut self, wide: bool) -> Result<i64, Walk> {
        if self.flexible {
            Ok(self.uvarint()? as i64 - 1)
        } else if wide {
            Ok(self.int(4)? as i32 as i64)
        } else {
            Ok(self.int(2)? as i16 as i64)
        }
    }
    /// An array count, refused if it cannot fit in what is left (-1 = null).
    fn count(&mut self) -> Result<i64, Walk> {
        let position = self.at;
        let n = if self.flexible {
            self.uvarint()? as i64 - 1
        } else {
            self.int(4)? as i32 as i64
        };
        if n > self.remaining() as i64 {
            return Err(Walk::Refuse(ImpossibleCount {
                count: n as u64,
                remaining: self.remaining(),
                position,
            }));
        }
        Ok(n)
    }
    fn tagged_fields(&mut self) -> Result<(), Walk> {
        if !self.flexible {
            return Ok(());
        }
        let n = self.uvarint()?;
        for _ in 0..n {
            self.uvarint()?;
            let size = self.uvarint()? as usize;
            self.skip(size)?;
        }
        Ok(())
    }
    fn fields(&mut self, fields: &[Field], version: i16) -> Result<(), Walk> {
        for fd in fields
            .iter()
            .filter(|fd| (fd.min..=fd.max).contains(&version))
        {
            match fd.ty {
                Ty::I8 | Ty::Bool => self.skip(1)?,
                Ty::I16 => self.skip(2)?,
                Ty::I32 => self.skip(4)?,
                Ty::I64 => self.skip(8)?,
                Ty::Uuid => self.skip(16)?,
                Ty::Str => {
                    let n = self.len(false)?;
                    self.skip(n.max(0) as usize)?;
                }
                Ty::Bytes => {
                    let n = self.len(true)?;
                    self.skip(n.max(0) as usize)?;
                }
                Ty::ArrayI32 => {
                    let n = self.count()?;
                    self.skip(n.max(0) as usize * 4)?;
                }
                Ty::ArrayStr => {
                    for _ in 0..self.count()?.max(0) {
                        let n = self.len(false)?;
                        self.skip(n.max(0) as usize)?;
                    }
                }
                Ty::Array(inner) => {
                    for _ in 0..self.count()?.max(0) {
                        self.fields(inner, version)?;
                        self.tagged_fields()?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Checks the body of a request (the bytes after its header).
pub fn check_body(api: ApiKey, version: i16, body: &[u8]) -> Result<(), ImpossibleCount> {
    let Some((flexible_from, fields)) = layout(api) else {
        return Ok(());
    };
    let mut c = Cursor {
        b: body,
        at: 0,
        flexible: version >= flexible_from,
    };
    match c.fields(fields, version) {
        Err(Walk::Refuse(e)) => Err(e),
        _ => Ok(()),
    }
}

/// Checks a whole request frame body (header included).
pub fn check_request(api: ApiKey, version: i16, frame: &[u8]) -> Result<(), ImpossibleCount> {
    // Header v1: key, version, correlation id, nullable client id (INT16 length); v2 adds tags.
    let mut c = Cursor {
        b: frame,
        at: 8,
        flexible: false,
    };
    let Ok(n) = c.len(false) else { return Ok(()) };
    if c.skip(n.max(0) as usize).is_err() {
        return Ok(());
    }
    if api.request_header_version(version) >= 2 {
        c.flexible = true;
        if c.tagged_fields().is_err() {
            return Ok(());
        }
    }
    check_body(api, version, &frame[c.at..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::{Encodable, StrBytes};

    fn s(v: &str) -> StrBytes {
        StrBytes::from_string(v.into())
    }

    /// Encodes `req` and asserts the walker follows it to the last byte.
    fn walks_exactly<R: Encodable>(api: ApiKey, req: &R, version: i16) {
        let mut buf = BytesMut::new();
        req.encode(&mut buf, version).unwrap();
        let (flexible_from, fields) = layout(api).unwrap();
        let mut c = Cursor {
            b: &buf,
            at: 0,
            flexible: version >= flexible_from,
        };
        assert!(
            c.fields(fields, version).is_ok(),
            "{api:?} v{version}: walk failed"
        );
        c.tagged_fields().ok();
        assert_eq!(
            c.at,
            buf.len(),
            "{api:?} v{version}: walked {} of {} bytes",
            c.at,
            buf.len()
        );
    }

    fn versions(api: ApiKey) -> std::ops::RangeInclusive<i16> {
        let &(_, min, max) = crate::server::versions::SUPPORTED_APIS
            .iter()
            .find(|e| e.0 == api)
            .unwrap();
        min..=max
    }

    #[test]
    fn layouts_match_the_codec_for_every_version() {
        let id = uuid::Uuid::from_u128(7);
        for v in versions(ApiKey::Produce) {
            let mut produce = ProduceRequest::default();
            produce.transactional_id = Some(s("tx").into());
            for t in 0..2 {
                let mut td = produce_request::TopicProduceData::default();
                if v <= 12 {
                    td.name = TopicName(s(&format!("topic{t}")));
                } else {
                    td.topic_id = id;
                }
                for p in 0..2 {
                    let mut pd = produce_request::PartitionProduceData::default();
                    pd.index = p;
                    pd.records = Some(bytes::Bytes::from_static(b"0123456789"));
                    td.partition_data.push(pd);
                }
                produce.topic_data.push(td);
            }
            walks_exactly(ApiKey::Produce, &produce, v);
        }

        for v in versions(ApiKey::Fetch) {
            let mut fetch = FetchRequest::default();
            for t in 0..2 {
                let mut ft = fetch_request::FetchTopic::default();
                if v <= 12 {
                    ft.topic = TopicName(s(&format!("t{t}")));
                } else {
                    ft.topic_id = id;
                }
                for p in 0..3 {
                    let mut fp = fetch_request::FetchPartition::default();
                    fp.partition = p;
                    ft.partitions.push(fp);
                }
                fetch.topics.push(ft);
                if v >= 7 {
                    let mut fg = fetch_request::ForgottenTopic::default();
                    if v <= 12 {
                        fg.topic = TopicName(s("gone"));
                    } else {
                        fg.topic_id = id;
                    }
                    fg.partitions = vec![1, 2, 3];
                    fetch.forgotten_topics_data.push(fg);
                }
            }
            if v >= 11 {
                fetch.rack_id = s("rack");
            }
            walks_exactly(ApiKey::Fetch, &fetch, v);
        }

        let mut lo = ListOffsetsRequest::default();
        let mut lt = list_offsets_request::ListOffsetsTopic::default();
        lt.name = TopicName(s("t"));
        lt.partitions = vec![Default::default(), Default::default()];
        lo.topics = vec![lt.clone(), lt];
        for v in versions(ApiKey::ListOffsets) {
            walks_exactly(ApiKey::ListOffsets, &lo, v);
        }

        let mut md = MetadataRequest::default();
        let mut mt = metadata_request::MetadataRequestTopic::default();
        mt.name = Some(TopicName(s("abc")));
        md.topics = Some(vec![mt.clone(), mt]);
        for v in versions(ApiKey::Metadata) {
            walks_exactly(ApiKey::Metadata, &md, v);
        }

        let mut ct = CreateTopicsRequest::default();
        let mut topic = create_topics_request::CreatableTopic::default();
        topic.name = TopicName(s("new"));
        let mut a = create_topics_request::CreatableReplicaAssignment::default();
        a.broker_ids = vec![BrokerId(1), BrokerId(2)];
        topic.assignments = vec![a.clone(), a];
        let mut cfg = create_topics_request::CreatableTopicConfig::default();
        cfg.name = s("retention.ms");
        cfg.value = Some(s("1"));
        topic.configs = vec![cfg.clone(), cfg];
        ct.topics = vec![topic.clone(), topic];
        for v in versions(ApiKey::CreateTopics) {
            walks_exactly(ApiKey::CreateTopics, &ct, v);
        }

        for v in versions(ApiKey::DeleteTopics) {
            let mut dt = DeleteTopicsRequest::default();
            if v >= 6 {
                let mut st = delete_topics_request::DeleteTopicState::default();
                st.name = Some(TopicName(s("x")));
                dt.topics = vec![st.clone(), st];
            } else {
                dt.topic_names = vec![TopicName(s("x")), TopicName(s("yy"))];
            }
            walks_exactly(ApiKey::DeleteTopics, &dt, v);
        }

        let mut dr = DeleteRecordsRequest::default();
        let mut drt = delete_records_request::DeleteRecordsTopic::default();
        drt.name = TopicName(s("t"));
        drt.partitions = vec![Default::default(), Default::default()];
        dr.topics = vec![drt.clone(), drt];
        for v in versions(ApiKey::DeleteRecords) {
            walks_exactly(ApiKey::DeleteRecords, &dr, v);
        }

        let mut oe = OffsetForLeaderEpochRequest::default();
        let mut ot = offset_for_leader_epoch_request::OffsetForLeaderTopic::default();
        ot.topic = TopicName(s("t"));
        ot.partitions = vec![Default::default(), Default::default()];
        oe.topics = vec![ot.clone(), ot];
        for v in versions(ApiKey::OffsetForLeaderEpoch) {
            walks_exactly(ApiKey::OffsetForLeaderEpoch, &oe, v);
        }

        let mut dc = DescribeConfigsRequest::default();
        let mut r = describe_configs_request::DescribeConfigsResource::default();
        r.resource_name = s("t");
        r.configuration_keys = Some(vec![s("a"), s("bb")]);
        dc.resources = vec![r.clone(), r];
        for v in versions(ApiKey::DescribeConfigs) {
            walks_exactly(ApiKey::DescribeConfigs, &dc, v);
        }

        let mut ac = AlterConfigsRequest::default();
        let mut r = alter_configs_request::AlterConfigsResource::default();
        r.resource_name = s("t");
        let mut c = alter_configs_request::AlterableConfig::default();
        c.name = s("k");
        c.value = Some(s("v"));
        r.configs = vec![c.clone(), c];
        ac.resources = vec![r.clone(), r];
        for v in versions(ApiKey::AlterConfigs) {
            walks_exactly(ApiKey::AlterConfigs, &ac, v);
        }

        let mut cp = CreatePartitionsRequest::default();
        let mut t = create_partitions_request::CreatePartitionsTopic::default();
        t.name = TopicName(s("t"));
        let mut a = create_partitions_request::CreatePartitionsAssignment::default();
        a.broker_ids = vec![BrokerId(1)];
        t.assignments = Some(vec![a.clone(), a]);
        cp.topics = vec![t.clone(), t];
        for v in versions(ApiKey::CreatePartitions) {
            walks_exactly(ApiKey::CreatePartitions, &cp, v);
        }

        let mut ia = IncrementalAlterConfigsRequest::default();
        let mut r = incremental_alter_configs_request::AlterConfigsResource::default();
        r.resource_name = s("t");
        let mut c = incremental_alter_configs_request::AlterableConfig::default();
        c.name = s("k");
        c.value = Some(s("v"));
        r.configs = vec![c.clone(), c];
        ia.resources = vec![r.clone(), r];
        for v in versions(ApiKey::IncrementalAlterConfigs) {
            walks_exactly(ApiKey::IncrementalAlterConfigs, &ia, v);
        }
    }

    #[test]
    fn refuses_impossible_counts() {
        // Produce v9 body: null transactional id, acks, timeout, topic array claiming u32::MAX-1.
        let body = [0u8, 0, 1, 0, 0, 3, 232, 0xff, 0xff, 0xff, 0xff, 0x0f];
        let e = check_body(ApiKey::Produce, 9, &body).unwrap_err();
        assert_eq!(e.position, 7);
        // Produce v7 (non-flexible): INT32 count of 1_000_000 with 4 bytes left.
        let body = [
            0xffu8, 0xff, 0, 1, 0, 0, 3, 232, 0, 0x0f, 0x42, 0x40, 1, 2, 3, 4,
        ];
        assert!(check_body(ApiKey::Produce, 7, &body).is_err());
        // Truncated input is not our call.
        assert!(check_body(ApiKey::Produce, 7, &body[..3]).is_ok());
    }
}
