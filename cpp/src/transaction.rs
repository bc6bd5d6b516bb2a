//! The transactional producer (`transactional.id`) and the consumer's group metadata for
//! `send_offsets_to_transaction`. Errors keep the core's class: abortable (abort, then go on)
//! or fatal (fenced).

use std::future::Future;

use odradek::error::Error;
use odradek::producer::ConsumerGroupMetadata;

use crate::ffi::{GroupMetadata, PartitionOffset};
use crate::{ConsumerBox, FfiError, ProducerBox, block_on, guard, timeout_of};

/// Blocks on a transaction call for at most `timeout_ms` (negative: no limit).
fn within<F: Future<Output = odradek::error::Result<()>>>(
    what: &str,
    timeout_ms: i64,
    f: F,
) -> Result<(), FfiError> {
    guard(|| {
        let timeout = timeout_of(timeout_ms);
        block_on(async {
            tokio::time::timeout(timeout, f).await.unwrap_or_else(|_| {
                Err(Error::timeout(format!(
                    "{what} did not complete within {timeout:?}"
                )))
            })
        })?
    })
}

impl ProducerBox {
    pub(crate) fn init_transactions(&self, timeout_ms: i64) -> Result<(), FfiError> {
        within(
            "init_transactions",
            timeout_ms,
            self.producer.init_transactions(),
        )
    }

    pub(crate) fn begin_transaction(&self) -> Result<(), FfiError> {
        guard(|| self.producer.begin_transaction())
    }

    pub(crate) fn send_offsets_to_transaction(
        &self,
        offsets: &[PartitionOffset],
        group: &GroupMetadata,
        timeout_ms: i64,
    ) -> Result<(), FfiError> {
        let offsets: Vec<(String, i32, i64)> = offsets
            .iter()
            .map(|p| (p.topic.clone(), p.partition, p.offset))
            .collect();
        let group = ConsumerGroupMetadata {
            group_id: group.group_id.clone(),
            generation_id: group.generation_id,
            member_id: group.member_id.clone(),
            group_instance_id: Some(group.group_instance_id.clone()).filter(|s| !s.is_empty()),
        };
        within(
            "send_offsets_to_transaction",
            timeout_ms,
            self.producer.send_offsets_to_transaction(&offsets, &group),
        )
    }

    pub(crate) fn commit_transaction(&self, timeout_ms: i64) -> Result<(), FfiError> {
        within(
            "commit_transaction",
            timeout_ms,
            self.producer.commit_transaction(),
        )
    }

    pub(crate) fn abort_transaction(&self, timeout_ms: i64) -> Result<(), FfiError> {
        within(
            "abort_transaction",
            timeout_ms,
            self.producer.abort_transaction(),
        )
    }
}

impl ConsumerBox {
    pub(crate) fn group_metadata(&self) -> Result<GroupMetadata, FfiError> {
        guard(|| {
            let m = self
                .client
                .group()
                .ok_or_else(|| {
                    Error::invalid_argument("group_metadata needs a consumer with group.id")
                })?
                .group_metadata();
            Ok(GroupMetadata {
                group_id: m.group_id,
                generation_id: m.generation_id,
                member_id: m.member_id,
                group_instance_id: m.group_instance_id.unwrap_or_default(),
            })
        })
    }
}
