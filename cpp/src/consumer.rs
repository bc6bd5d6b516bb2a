//! The consumer behind `odradek::Consumer` in C++: assigned partitions by hand or a group member
//! after `subscribe`, with commit / committed / seek / position either way.

use std::sync::Arc;

use odradek::consumer::{ConsumerClient, ConsumerRecord, Offset};
use odradek::group::RebalanceListener;

use crate::ffi::{self, PartitionOffset, Property};
use crate::{FfiError, block_on, config_of, guard, guard_or, timeout_of, utf8};

use odradek::consumer::OFFSET_INVALID;

fn offset_of(o: i64) -> odradek::error::Result<Offset> {
    Offset::from_raw(o)
}

/// The core's [`ConsumerClient`]: assigned by hand, or a group member after `subscribe`.
#[derive(Debug)]
pub struct ConsumerBox {
    pub(crate) client: ConsumerClient,
}

pub(crate) fn consumer_new(
    config: &[Property],
    tokens: cxx::UniquePtr<crate::ffi::TokenSink>,
) -> Result<Box<ConsumerBox>, FfiError> {
    guard(|| {
        let client = ConsumerClient::new(&config_of(config, tokens)?)?;
        Ok(Box::new(ConsumerBox { client }))
    })
}

impl ConsumerBox {
    pub(crate) fn subscribe(&self, topics: &[String]) -> Result<(), FfiError> {
        guard(|| {
            let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
            self.client.subscribe(&topics)
        })
    }

    pub(crate) fn assign(&self, partitions: &[PartitionOffset]) -> Result<(), FfiError> {
        guard(|| {
            let mut starts = Vec::with_capacity(partitions.len());
            for p in partitions {
                starts.push((p.topic.as_str(), p.partition, offset_of(p.offset)?));
            }
            block_on(self.client.assign(&starts))?
        })
    }

    pub(crate) fn unassign(&self) -> Result<(), FfiError> {
        guard(|| {
            self.client.unassign();
            Ok(())
        })
    }

    pub(crate) fn assignment(&self) -> Result<Vec<PartitionOffset>, FfiError> {
        guard(|| {
            Ok(self
                .client
                .assignment()
                .into_iter()
                .map(|(topic, partition)| PartitionOffset {
                    offset: self
                        .client
                        .position(&topic, partition)
                        .unwrap_or(OFFSET_INVALID),
                    topic,
                    partition,
                })
                .collect())
        })
    }

    pub(crate) fn poll_batch(
        &self,
        max: usize,
        timeout_ms: i64,
    ) -> Result<Box<RecordBatchBox>, FfiError> {
        guard(|| {
            // Records already fetched need no trip through the runtime.
            let mut records = self.client.take_ready(max.max(1))?;
            if records.is_empty() && timeout_ms != 0 {
                records = block_on(self.client.poll_batch(max.max(1), timeout_of(timeout_ms)))??;
            }
            Ok(Box::new(RecordBatchBox {
                records,
                delivery_counts: Vec::new(),
            }))
        })
    }

    pub(crate) fn seek(&self, topic: &[u8], partition: i32, offset: i64) -> Result<(), FfiError> {
        guard(|| {
            let topic = utf8(topic, "the topic name")?;
            self.client.seek(topic, partition, offset_of(offset)?)
        })
    }

    pub(crate) fn position(&self, topic: &[u8], partition: i32) -> Result<i64, FfiError> {
        guard(|| {
            let topic = utf8(topic, "the topic name")?;
            Ok(self
                .client
                .position(topic, partition)
                .unwrap_or(OFFSET_INVALID))
        })
    }

    /// Stops fetching these partitions (their positions stay) until `resume`.
    pub(crate) fn pause(&self, partitions: &[PartitionOffset]) -> Result<(), FfiError> {
        guard(|| {
            self.client.consumer().pause(&topic_partitions(partitions));
            Ok(())
        })
    }

    pub(crate) fn resume(&self, partitions: &[PartitionOffset]) -> Result<(), FfiError> {
        guard(|| {
            self.client.consumer().resume(&topic_partitions(partitions));
            Ok(())
        })
    }

    /// `[low, high]`: the partition's log start and high watermark, asked from its leader.
    pub(crate) fn watermarks(&self, topic: &[u8], partition: i32) -> Result<Vec<i64>, FfiError> {
        guard(|| {
            let topic = utf8(topic, "the topic name")?;
            let (low, high) = block_on(self.client.consumer().fetch_watermarks(topic, partition))??;
            Ok(vec![low, high])
        })
    }

    pub(crate) fn commit(&self) -> Result<(), FfiError> {
        guard(|| block_on(self.client.commit())?)
    }

    pub(crate) fn commit_offsets(&self, offsets: &[PartitionOffset]) -> Result<(), FfiError> {
        guard(|| {
            let offsets: Vec<(String, i32, i64)> = offsets
                .iter()
                .map(|p| (p.topic.clone(), p.partition, p.offset))
                .collect();
            block_on(self.client.commit_offsets(&offsets))?
        })
    }

    pub(crate) fn committed(&self, partitions: &[PartitionOffset]) -> Result<Vec<i64>, FfiError> {
        guard(|| {
            let wanted: Vec<(String, i32)> = partitions
                .iter()
                .map(|p| (p.topic.clone(), p.partition))
                .collect();
            let got = block_on(self.client.committed(&wanted))??;
            Ok(wanted
                .iter()
                .map(|k| got.get(k).copied().flatten().unwrap_or(-1))
                .collect())
        })
    }

    pub(crate) fn set_rebalance_sink(
        &self,
        sink: cxx::UniquePtr<ffi::RebalanceSink>,
    ) -> Result<(), FfiError> {
        guard(|| {
            self.client
                .set_rebalance_listener(Arc::new(RebalanceBridge { sink }))
        })
    }

    pub(crate) fn close(&self) -> Result<(), FfiError> {
        guard(|| block_on(self.client.close())?)
    }
}

struct RebalanceBridge {
    sink: cxx::UniquePtr<ffi::RebalanceSink>,
}

impl RebalanceBridge {
    fn event(&self, kind: u8, partitions: &[(String, i32)]) {
        let Some(sink) = self.sink.as_ref() else {
            return;
        };
        let parts: Vec<PartitionOffset> = partitions
            .iter()
            .map(|(t, p)| PartitionOffset {
                topic: t.clone(),
                partition: *p,
                offset: OFFSET_INVALID,
            })
            .collect();
        guard_or((), || ffi::rebalance_event(sink, kind, &parts));
    }
}

impl RebalanceListener for RebalanceBridge {
    fn on_assigned(&self, partitions: &[(String, i32)]) {
        self.event(0, partitions);
    }
    fn on_revoked(&self, partitions: &[(String, i32)]) {
        self.event(1, partitions);
    }
    fn on_lost(&self, partitions: &[(String, i32)]) {
        self.event(2, partitions);
    }
}

/// Records handed to C++ in one piece; C++ reads them in place (no copy of keys or values).
#[derive(Debug)]
pub struct RecordBatchBox {
    pub(crate) records: Vec<ConsumerRecord>,
    /// Per record, for a share consumer's batch; empty for a classic consumer's.
    pub(crate) delivery_counts: Vec<i16>,
}

const EMPTY: &[u8] = &[];

impl RecordBatchBox {
    fn at(&self, i: usize) -> Option<&ConsumerRecord> {
        self.records.get(i)
    }
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }
    pub(crate) fn delivery_count(&self, i: usize) -> i16 {
        self.delivery_counts.get(i).copied().unwrap_or(-1)
    }
    pub(crate) fn topic(&self, i: usize) -> &str {
        self.at(i).map_or("", |r| &r.topic)
    }
    pub(crate) fn partition(&self, i: usize) -> i32 {
        self.at(i).map_or(-1, |r| r.partition)
    }
    pub(crate) fn offset(&self, i: usize) -> i64 {
        self.at(i).map_or(-1, |r| r.offset)
    }
    pub(crate) fn timestamp(&self, i: usize) -> i64 {
        self.at(i).map_or(-1, |r| r.timestamp)
    }
    pub(crate) fn key(&self, i: usize) -> &[u8] {
        self.at(i).and_then(|r| r.key.as_deref()).unwrap_or(EMPTY)
    }
    pub(crate) fn key_is_null(&self, i: usize) -> bool {
        self.at(i).is_none_or(|r| r.key.is_none())
    }
    pub(crate) fn value(&self, i: usize) -> &[u8] {
        self.at(i).and_then(|r| r.value.as_deref()).unwrap_or(EMPTY)
    }
    pub(crate) fn value_is_null(&self, i: usize) -> bool {
        self.at(i).is_none_or(|r| r.value.is_none())
    }
    pub(crate) fn header_count(&self, i: usize) -> usize {
        self.at(i).map_or(0, |r| r.headers.len())
    }
    pub(crate) fn header_key(&self, i: usize, h: usize) -> &[u8] {
        self.at(i)
            .and_then(|r| r.headers.get(h))
            .map_or(EMPTY, |h| &h.key[..])
    }
    pub(crate) fn header_value(&self, i: usize, h: usize) -> &[u8] {
        self.at(i)
            .and_then(|r| r.headers.get(h))
            .and_then(|h| h.value.as_deref())
            .unwrap_or(EMPTY)
    }
    pub(crate) fn header_value_is_null(&self, i: usize, h: usize) -> bool {
        self.at(i)
            .and_then(|r| r.headers.get(h))
            .is_none_or(|h| h.value.is_none())
    }
}

/// `(topic, partition)` pairs of a list whose offsets do not matter here.
fn topic_partitions(partitions: &[PartitionOffset]) -> Vec<(&str, i32)> {
    partitions
        .iter()
        .map(|p| (p.topic.as_str(), p.partition))
        .collect()
}
