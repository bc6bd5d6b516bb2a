//! The transactional producer (`transactional.id`) and the consumer's group metadata for
//! `sendOffsetsToTransaction` (KIP-447). `index.js` builds kafkajs's `producer.transaction()`
//! on these; errors keep the core's class (`abortable`, `fatal`).

use napi::bindgen_prelude::*;
use napi_derive::napi;
use odradek::producer::ConsumerGroupMetadata;

use crate::consumer::{NativeConsumer, TopicPartitionOffset};
use crate::{NativeProducer, js_error};

/// A consumer's group, generation and member id (`consumer.groupMetadata()`).
#[napi(object)]
pub struct GroupMetadata {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

#[napi]
impl NativeProducer {
    /// Registers `transactional.id` (fencing earlier producers with it).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn init_transactions<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let p = self.inner.clone();
        env.spawn_future(async move { p.init_transactions().await.map_err(js_error) })
    }

    #[napi]
    pub fn begin_transaction(&self) -> Result<()> {
        self.inner.begin_transaction().map_err(js_error)
    }

    /// Adds the offsets to the open transaction, committed for `group` with it.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn send_offsets_to_transaction<'env>(
        &self,
        env: &'env Env,
        offsets: Vec<TopicPartitionOffset>,
        group: GroupMetadata,
    ) -> Result<PromiseRaw<'env, ()>> {
        let p = self.inner.clone();
        let offsets: Vec<(String, i32, i64)> = offsets
            .into_iter()
            .map(|o| (o.topic, o.partition, o.offset))
            .collect();
        let group = ConsumerGroupMetadata {
            group_id: group.group_id,
            generation_id: group.generation_id,
            member_id: group.member_id,
            group_instance_id: group.group_instance_id,
        };
        env.spawn_future(async move {
            p.send_offsets_to_transaction(&offsets, &group)
                .await
                .map_err(js_error)
        })
    }

    /// `commit`: commit the open transaction, else abort it.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn end_transaction<'env>(
        &self,
        env: &'env Env,
        commit: bool,
    ) -> Result<PromiseRaw<'env, ()>> {
        let p = self.inner.clone();
        env.spawn_future(async move {
            if commit {
                p.commit_transaction().await.map_err(js_error)
            } else {
                p.abort_transaction().await.map_err(js_error)
            }
        })
    }
}

#[napi]
impl NativeConsumer {
    /// The group metadata for `sendOffsetsToTransaction` (needs `group.id`).
    #[napi]
    pub fn group_metadata(&self) -> Result<GroupMetadata> {
        let group = self.inner.group().ok_or_else(|| {
            js_error(odradek::error::Error::invalid_argument(
                "groupMetadata needs a consumer with group.id",
            ))
        })?;
        let m = group.group_metadata();
        Ok(GroupMetadata {
            group_id: m.group_id,
            generation_id: m.generation_id,
            member_id: m.member_id,
            group_instance_id: m.group_instance_id,
        })
    }
}
