//! InitProducerId for idempotent producers. Transactional ids come with the transactions issue.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::{Ctx, codes};

pub fn init_producer_id(ctx: &Ctx, req: InitProducerIdRequest) -> InitProducerIdResponse {
    let mut r = InitProducerIdResponse::default();
    r.producer_id = ProducerId(-1);
    r.producer_epoch = -1;
    r.ongoing_txn_producer_id = ProducerId(-1);
    r.ongoing_txn_producer_epoch = -1;
    if req.transactional_id.is_some() {
        // Fatal on the client, with no retry loop: transactions are not implemented yet.
        r.error_code = codes::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        return r;
    }
    if !ctx.may_produce_idempotently() {
        r.error_code = codes::CLUSTER_AUTHORIZATION_FAILED;
        return r;
    }
    // KIP-360: a known producer asking again gets its epoch bumped (a new id on overflow).
    if req.producer_id.0 >= 0 && req.producer_epoch >= 0 && req.producer_epoch < i16::MAX - 1 {
        r.producer_id = req.producer_id;
        r.producer_epoch = req.producer_epoch + 1;
        return r;
    }
    match ctx.state.next_producer_id() {
        Ok(id) => {
            r.producer_id = ProducerId(id);
            r.producer_epoch = 0;
        }
        Err(e) => {
            tracing::error!("allocating a producer id failed: {e}");
            r.error_code = 15; // COORDINATOR_NOT_AVAILABLE: retriable
        }
    }
    r
}
