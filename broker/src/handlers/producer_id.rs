//! InitProducerId: idempotent producers get a fresh id (or, KIP-360, their epoch bumped);
//! transactional ids go to the transaction coordinator, which fences the previous producer.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::{Ctx, Outcome, codes};
use crate::security::acl::{op, resource};
use crate::time::now_ms;

pub fn init_producer_id(ctx: &Ctx, req: InitProducerIdRequest) -> Outcome {
    let mut r = InitProducerIdResponse::default();
    r.producer_id = ProducerId(-1);
    r.producer_epoch = -1;
    r.ongoing_txn_producer_id = ProducerId(-1);
    r.ongoing_txn_producer_epoch = -1;
    if let Some(id) = req.transactional_id.as_deref() {
        if ctx.state.cluster.is_some() {
            // The transaction coordinator writes markers to local logs, which in cluster mode
            // may not lead the partitions: refused until it works through the leaders.
            tracing::info!(
                transactional_id = %id.as_str(),
                "transactions are not supported in cluster mode yet"
            );
            r.error_code = codes::INVALID_REQUEST;
            return respond(r);
        }
        if !ctx.allowed(op::WRITE, resource::TRANSACTIONAL_ID, id) {
            r.error_code = crate::txn::codes::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
            return respond(r);
        }
        let s = &ctx.state;
        let expected = (req.producer_id.0 >= 0).then_some((req.producer_id.0, req.producer_epoch));
        let (result, written) =
            s.txns
                .init_producer_id(s, id, req.transaction_timeout_ms, expected, now_ms());
        match result {
            Ok((pid, epoch)) => {
                r.producer_id = ProducerId(pid);
                r.producer_epoch = epoch;
            }
            Err(code) => r.error_code = code,
        }
        let fsync = s.fsync;
        return Outcome::Later(Box::pin(async move {
            if let Err(e) = written.settle(fsync).await {
                tracing::error!("flushing abort markers failed: {e}");
                r = InitProducerIdResponse::default();
                r.producer_id = ProducerId(-1);
                r.producer_epoch = -1;
                r.error_code = crate::txn::codes::KAFKA_STORAGE_ERROR;
            }
            kafka_protocol::messages::ResponseKind::InitProducerId(r)
        }));
    }
    if !ctx.may_produce_idempotently() {
        r.error_code = codes::CLUSTER_AUTHORIZATION_FAILED;
        return respond(r);
    }
    // KIP-360: a known producer asking again gets its epoch bumped (a new id on overflow).
    if req.producer_id.0 >= 0 && req.producer_epoch >= 0 && req.producer_epoch < i16::MAX - 1 {
        r.producer_id = req.producer_id;
        r.producer_epoch = req.producer_epoch + 1;
        return respond(r);
    }
    match ctx.state.next_producer_id() {
        Ok(id) => {
            r.producer_id = ProducerId(id);
            r.producer_epoch = 0;
        }
        Err(e) => {
            tracing::warn!("allocating a producer id failed: {e}");
            r.error_code = 15; // COORDINATOR_NOT_AVAILABLE: retriable
        }
    }
    respond(r)
}

fn respond(r: InitProducerIdResponse) -> Outcome {
    Outcome::Respond(Box::new(
        kafka_protocol::messages::ResponseKind::InitProducerId(r),
    ))
}
