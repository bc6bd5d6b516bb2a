//! The share consumer (KIP-932, share groups) behind `odradek::ShareConsumer` in C++: its
//! records come in the consumer's `RecordBatchBox`, with their delivery counts.

use odradek::share::{AcknowledgeType, ShareConsumer, ShareRecord};

use crate::consumer::RecordBatchBox;
use crate::ffi::{PartitionOffset, Property};
use crate::{FfiError, block_on, config_of, guard, timeout_of, utf8};

/// The core's [`ShareConsumer`].
#[derive(Debug)]
pub struct ShareConsumerBox {
    consumer: ShareConsumer,
}

pub(crate) fn share_consumer_new(
    config: &[Property],
    tokens: cxx::UniquePtr<crate::ffi::TokenSink>,
) -> Result<Box<ShareConsumerBox>, FfiError> {
    guard(|| {
        let consumer = ShareConsumer::new(&config_of(config, tokens)?)?;
        Ok(Box::new(ShareConsumerBox { consumer }))
    })
}

impl ShareConsumerBox {
    pub(crate) fn subscribe(&self, topics: &[String]) -> Result<(), FfiError> {
        guard(|| {
            self.consumer.subscribe(topics);
            Ok(())
        })
    }

    pub(crate) fn assignment(&self) -> Result<Vec<PartitionOffset>, FfiError> {
        guard(|| {
            Ok(self
                .consumer
                .assignment()
                .into_iter()
                .map(|(topic, partition)| PartitionOffset {
                    topic,
                    partition,
                    offset: odradek::consumer::OFFSET_INVALID,
                })
                .collect())
        })
    }

    pub(crate) fn poll(&self, timeout_ms: i64) -> Result<Box<RecordBatchBox>, FfiError> {
        guard(|| {
            let records = block_on(self.consumer.poll(timeout_of(timeout_ms)))??;
            Ok(Box::new(RecordBatchBox {
                delivery_counts: records.iter().map(|r| r.delivery_count).collect(),
                records: records
                    .iter()
                    .map(ShareRecord::to_consumer_record)
                    .collect(),
            }))
        })
    }

    pub(crate) fn acknowledge(
        &self,
        topic: &[u8],
        partition: i32,
        offset: i64,
        kind: u8,
    ) -> Result<(), FfiError> {
        guard(|| {
            let topic = utf8(topic, "the topic name")?;
            let kind = match kind {
                1 => AcknowledgeType::Accept,
                2 => AcknowledgeType::Release,
                3 => AcknowledgeType::Reject,
                other => {
                    return Err(odradek::error::Error::invalid_argument(format!(
                        "acknowledge type {other} is not Accept (1), Release (2) or Reject (3)"
                    )));
                }
            };
            self.consumer
                .acknowledge_offset(topic, partition, offset, kind)
        })
    }

    pub(crate) fn commit_sync(&self) -> Result<(), FfiError> {
        guard(|| block_on(self.consumer.commit_sync())?)
    }

    pub(crate) fn commit_async(&self) -> Result<(), FfiError> {
        guard(|| {
            self.consumer.commit_async();
            Ok(())
        })
    }

    pub(crate) fn close(&self) -> Result<(), FfiError> {
        guard(|| block_on(self.consumer.close())?)
    }
}
