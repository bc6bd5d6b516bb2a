//! What the broker changes in a produced batch after validation and before the append, when
//! the topic's configs ask for it (as Kafka's `LogValidator` does):
//!
//! - `compression.type` other than `producer`: the records section is decompressed and
//!   compressed again with the topic's codec (and `compression.<codec>.level`) when the
//!   producer used another codec. Records themselves are not re-encoded: the uncompressed
//!   records section is the same bytes whatever the codec.
//! - `message.timestamp.type=LogAppendTime`: the batch's max timestamp becomes the append
//!   time and its timestamp-type attribute is set; consumers then read every record's
//!   timestamp as that time.
//!
//! Either change rewrites the CRC. Batches of topics that ask for neither are stored exactly as
//! sent, without a copy.

use odradek_protocol::compression::{self, Compression};
use odradek_protocol::records::{
    BATCH_HEADER_LEN, BatchHeader, RecordsError, set_compression, set_log_append_time,
};

use crate::log::AppendError;
use crate::log::validate::decompression_budget;

/// The topic-level settings that rewrite batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RewriteConfig {
    /// The topic's codec and level (`None` for `compression.type=producer`).
    pub compression: Option<(Compression, Option<i32>)>,
    /// `message.timestamp.type=LogAppendTime`.
    pub log_append_time: bool,
}

impl RewriteConfig {
    /// Whether batches of this topic are stored as sent.
    pub fn is_noop(&self) -> bool {
        self.compression.is_none() && !self.log_append_time
    }
}

/// A batch as it will be stored, when it differs from what the producer sent.
#[derive(Debug)]
pub struct Rewritten {
    pub bytes: Vec<u8>,
    pub header: BatchHeader,
}

/// Applies `cfg` to a validated batch (`records` holds exactly the batch `header` describes).
/// `Ok(None)` means the batch is stored as sent. `max_message_bytes` bounds a recompressed
/// batch as it bounds a produced one.
pub fn rewrite(
    records: &[u8],
    header: &BatchHeader,
    cfg: &RewriteConfig,
    max_message_bytes: usize,
    now_ms: i64,
) -> Result<Option<Rewritten>, AppendError> {
    let recompress = cfg
        .compression
        .filter(|(codec, _)| *codec != header.compression());
    if recompress.is_none() && !cfg.log_append_time {
        return Ok(None);
    }
    let total = header.total_len();
    let mut bytes = match recompress {
        Some((codec, level)) => {
            recompressed(&records[..total], header, codec, level, max_message_bytes)?
        }
        None => records[..total].to_vec(),
    };
    if bytes.len() > max_message_bytes {
        return Err(AppendError::TooLarge {
            size: bytes.len(),
            max: max_message_bytes,
        });
    }
    if cfg.log_append_time {
        set_log_append_time(&mut bytes, now_ms).map_err(AppendError::Corrupt)?;
    }
    let header = BatchHeader::parse(&bytes).map_err(AppendError::Corrupt)?;
    Ok(Some(Rewritten { bytes, header }))
}

/// The batch with its records section recompressed: same header fields but the codec bits
/// and the length. Decompression is bounded as validation bounds it.
fn recompressed(
    batch: &[u8],
    header: &BatchHeader,
    codec: Compression,
    level: Option<i32>,
    max_message_bytes: usize,
) -> Result<Vec<u8>, AppendError> {
    let corrupt = |e| AppendError::Corrupt(RecordsError::Compression(e));
    let section = &batch[BATCH_HEADER_LEN..];
    let mut plain = Vec::new();
    let plain = match header.compression() {
        Compression::None => section,
        from => {
            let budget = decompression_budget(max_message_bytes);
            compression::decompress_with_limit(from, section, &mut plain, budget)
                .map_err(corrupt)?;
            &plain[..]
        }
    };
    let mut out = Vec::with_capacity(BATCH_HEADER_LEN + plain.len() / 2);
    out.extend_from_slice(&batch[..BATCH_HEADER_LEN]);
    compression::compress(codec, level, plain, &mut out).map_err(|e| {
        AppendError::InvalidRecord(format!("recompressing the batch as {codec} failed: {e}"))
    })?;
    set_compression(&mut out, codec).map_err(|_| {
        AppendError::InvalidRecord("the recompressed batch exceeds 2 GiB".to_string())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use odradek_protocol::records::{
        BatchOptions, RecordBatch, RecordBatchBuilder, TimestampType, verify_crc,
    };

    fn batch(codec: Compression) -> Vec<u8> {
        let mut b = RecordBatchBuilder::new(BatchOptions {
            compression: codec,
            producer_id: 7,
            producer_epoch: 1,
            base_sequence: 0,
            ..BatchOptions::default()
        });
        for i in 0..20 {
            let v = format!("value-{i}-{}", "x".repeat(50));
            b.push(1_000 + i, Some(b"k"), Some(v.as_bytes()), &[])
                .unwrap();
        }
        b.finish().unwrap().to_vec()
    }

    fn values(bytes: &[u8]) -> Vec<(i64, Option<Vec<u8>>)> {
        let b = RecordBatch::parse(bytes::Bytes::copy_from_slice(bytes)).unwrap();
        b.records()
            .unwrap()
            .map(|r| {
                let r = r.unwrap();
                (r.timestamp, r.value.map(|v| v.to_vec()))
            })
            .collect()
    }

    #[test]
    fn stored_as_sent_without_settings() {
        let raw = batch(Compression::Lz4);
        let h = BatchHeader::parse(&raw).unwrap();
        let same_codec = RewriteConfig {
            compression: Some((Compression::Lz4, None)),
            log_append_time: false,
        };
        assert!(
            rewrite(&raw, &h, &RewriteConfig::default(), usize::MAX, 5)
                .unwrap()
                .is_none()
        );
        assert!(
            rewrite(&raw, &h, &same_codec, usize::MAX, 5)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn recompresses_every_codec_pair_keeping_records_and_producer_fields() {
        for from in Compression::ALL {
            for to in Compression::ALL {
                let raw = batch(from);
                let h = BatchHeader::parse(&raw).unwrap();
                let cfg = RewriteConfig {
                    compression: Some((to, None)),
                    log_append_time: false,
                };
                let out = rewrite(&raw, &h, &cfg, usize::MAX, 5).unwrap();
                let (bytes, header) = match out {
                    Some(r) => (r.bytes, r.header),
                    None => {
                        assert_eq!(from, to);
                        continue;
                    }
                };
                verify_crc(&bytes).unwrap();
                assert_eq!(header.compression(), to, "{from} -> {to}");
                assert_eq!(header.total_len(), bytes.len());
                assert_eq!(
                    (header.producer_id, header.base_sequence),
                    (h.producer_id, h.base_sequence)
                );
                assert_eq!(values(&bytes), values(&raw), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn log_append_time_stamps_the_batch() {
        let raw = batch(Compression::Snappy);
        let h = BatchHeader::parse(&raw).unwrap();
        let cfg = RewriteConfig {
            compression: Some((Compression::Zstd, Some(5))),
            log_append_time: true,
        };
        let r = rewrite(&raw, &h, &cfg, usize::MAX, 42_000)
            .unwrap()
            .unwrap();
        verify_crc(&r.bytes).unwrap();
        assert_eq!(r.header.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(r.header.max_timestamp, 42_000);
        assert_eq!(r.header.compression(), Compression::Zstd);
    }

    #[test]
    fn a_recompressed_batch_over_the_limit_is_refused() {
        let raw = batch(Compression::Zstd);
        let h = BatchHeader::parse(&raw).unwrap();
        let cfg = RewriteConfig {
            compression: Some((Compression::None, None)),
            log_append_time: false,
        };
        let err = rewrite(&raw, &h, &cfg, raw.len(), 5).unwrap_err();
        assert!(matches!(err, AppendError::TooLarge { .. }), "{err}");
    }
}
