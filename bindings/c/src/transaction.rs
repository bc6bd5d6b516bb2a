//! The transactional producer (`transactional.id`) and the consumer group metadata its
//! `send_offsets_to_transaction` takes (KIP-447). Errors carry the core's class:
//! ODRADEK_CLASS_ABORTABLE (abort the transaction, the producer stays usable) or
//! ODRADEK_CLASS_FATAL (fenced: the producer cannot continue).

use futures::future::BoxFuture;
use odradek::producer::ConsumerGroupMetadata;

use crate::consumer::{OdradekConsumer, OdradekTopicPartition, partitions_arg};
use crate::error::OdradekError;
use crate::producer::OdradekProducer;
use crate::util::{OdradekCancel, block, check_out, guard, guard_void, handle, invalid, write_out};

/// A consumer's group, generation and member id at the time it was taken (opaque): what
/// odradek_producer_send_offsets_to_transaction needs so that a zombie member's offsets are
/// refused. Free with odradek_group_metadata_free().
#[derive(Debug)]
pub struct OdradekGroupMetadata {
    metadata: ConsumerGroupMetadata,
}

/// The transaction calls that wait for the coordinator.
#[derive(Debug, Clone, Copy)]
enum Wait {
    Init,
    Commit,
    Abort,
}

fn wait_for(
    producer: *const OdradekProducer,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
    call: Wait,
) -> *mut OdradekError {
    guard(|| {
        let p = &handle(producer, "producer")?.producer;
        let (what, work): (&str, BoxFuture<'_, odradek::error::Result<()>>) = match call {
            Wait::Init => ("init_transactions", Box::pin(p.init_transactions())),
            Wait::Commit => ("commit_transaction", Box::pin(p.commit_transaction())),
            Wait::Abort => ("abort_transaction", Box::pin(p.abort_transaction())),
        };
        block(work, timeout_ms, cancel, what)
    })
}

/// Registers `transactional.id` with its coordinator: an earlier producer with the same id is
/// fenced and its open transaction aborted. Call once, before the first transaction.
/// Every transaction call on a producer without `transactional.id` fails with "_INVALID_ARG".
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_producer_init_transactions(
    producer: *const OdradekProducer,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    wait_for(producer, timeout_ms, cancel, Wait::Init)
}

/// Opens a transaction: records sent until commit or abort belong to it. Does not block.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_producer_begin_transaction(
    producer: *const OdradekProducer,
) -> *mut OdradekError {
    guard(|| {
        let p = handle(producer, "producer")?;
        p.producer.begin_transaction()?;
        Ok(())
    })
}

/// Adds the consumer's offsets (`offsets[i].offset` is the next offset to read) to the open
/// transaction: they are committed for the group of `group` (odradek_consumer_group_metadata)
/// if, and only if, the transaction commits.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_producer_send_offsets_to_transaction(
    producer: *const OdradekProducer,
    offsets: *const OdradekTopicPartition,
    count: usize,
    group: *const OdradekGroupMetadata,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    guard(|| {
        let p = handle(producer, "producer")?;
        let group = handle(group, "group")?;
        let offsets: Vec<(String, i32, i64)> = partitions_arg(offsets, count)?
            .into_iter()
            .map(|(t, p, o)| (t.to_string(), p, o))
            .collect();
        if offsets.is_empty() {
            return Err(invalid("offsets is empty"));
        }
        block(
            p.producer
                .send_offsets_to_transaction(&offsets, &group.metadata),
            timeout_ms,
            cancel,
            "send_offsets_to_transaction",
        )
    })
}

/// Delivers every record of the open transaction, then commits it. An error of class
/// ODRADEK_CLASS_ABORTABLE (a record failed) leaves the transaction to
/// odradek_producer_abort_transaction; ODRADEK_CLASS_FATAL (fenced) ends the producer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_producer_commit_transaction(
    producer: *const OdradekProducer,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    wait_for(producer, timeout_ms, cancel, Wait::Commit)
}

/// Aborts the open transaction: nothing it wrote is seen by read_committed consumers and its
/// offsets are not committed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_producer_abort_transaction(
    producer: *const OdradekProducer,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    wait_for(producer, timeout_ms, cancel, Wait::Abort)
}

/// The consumer's group metadata now (`group.id` required; the generation and member id are
/// those of its current membership). `*out` receives a handle freed with
/// odradek_group_metadata_free().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_group_metadata(
    consumer: *const OdradekConsumer,
    out: *mut *mut OdradekGroupMetadata,
) -> *mut OdradekError {
    guard(|| {
        check_out(out, "out")?;
        let c = handle(consumer, "consumer")?;
        let group = c
            .client
            .group()
            .ok_or_else(|| invalid("consumer group metadata needs a consumer with group.id"))?;
        let metadata = Box::new(OdradekGroupMetadata {
            metadata: group.group_metadata(),
        });
        write_out(out, Box::into_raw(metadata), "out")
    })
}

/// Frees group metadata. NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_group_metadata_free(metadata: *mut OdradekGroupMetadata) {
    if !metadata.is_null() {
        // SAFETY: the handle came from odradek_consumer_group_metadata and is freed once.
        guard_void(|| drop(unsafe { Box::from_raw(metadata) }));
    }
}
