//! Authorized-operations bit fields (KIP-430): every operation the resource type supports
//! (Kafka's `AclEntry.supportedOperations`), one bit per `AclOperation` code, narrowed to what
//! the ACLs allow when an authorizer is configured.

/// What a response carries when the client did not ask for the operations.
pub const NOT_REQUESTED: i32 = i32::MIN;

const READ: i32 = 3;
const WRITE: i32 = 4;
const CREATE: i32 = 5;
const DELETE: i32 = 6;
const ALTER: i32 = 7;
const DESCRIBE: i32 = 8;
const CLUSTER_ACTION: i32 = 9;
const DESCRIBE_CONFIGS: i32 = 10;
const ALTER_CONFIGS: i32 = 11;
const IDEMPOTENT_WRITE: i32 = 12;

const fn bits(ops: &[i32]) -> i32 {
    let mut out = 0;
    let mut i = 0;
    while i < ops.len() {
        out |= 1 << ops[i];
        i += 1;
    }
    out
}

/// A topic: read, write, create, delete, alter, describe, describe/alter configs (8 operations).
pub const TOPIC: i32 = bits(&[
    READ,
    WRITE,
    CREATE,
    DELETE,
    ALTER,
    DESCRIBE,
    DESCRIBE_CONFIGS,
    ALTER_CONFIGS,
]);
/// A group: read, describe, delete, describe/alter configs (5 operations).
pub const GROUP: i32 = bits(&[READ, DESCRIBE, DELETE, DESCRIBE_CONFIGS, ALTER_CONFIGS]);
/// The cluster: create, cluster action, describe/alter configs, idempotent write, alter,
/// describe (7 operations).
pub const CLUSTER: i32 = bits(&[
    CREATE,
    CLUSTER_ACTION,
    DESCRIBE_CONFIGS,
    ALTER_CONFIGS,
    IDEMPOTENT_WRITE,
    ALTER,
    DESCRIBE,
]);

/// Of the operations in `supported`, those the connection's principal may do on the resource
/// (all of them without an authorizer, as Kafka reports).
pub fn granted(ctx: &super::Ctx, resource_type: i8, name: &str, supported: i32) -> i32 {
    if !ctx.state.acls.enabled {
        return supported;
    }
    (0..32)
        .filter(|bit| supported & (1 << bit) != 0)
        .filter(|&bit| ctx.allowed(bit as i8, resource_type, name))
        .fold(0, |acc, bit| acc | (1 << bit))
}

/// `ops` when the request asked for authorized operations, else [`NOT_REQUESTED`].
pub fn if_requested(requested: bool, ops: i32) -> i32 {
    if requested { ops } else { NOT_REQUESTED }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_values_kafka_sends() {
        // As Apache Kafka 4.3.1 reports them with no authorizer configured.
        assert_eq!(TOPIC, 3576);
        assert_eq!(GROUP, 3400);
        assert_eq!(CLUSTER, 8096);
        assert_eq!(TOPIC.count_ones(), 8);
        assert_eq!(CLUSTER.count_ones(), 7);
    }
}
