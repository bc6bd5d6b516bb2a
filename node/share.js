'use strict'
// The share consumer (KIP-932, share groups): Java's KafkaShareConsumer with promises. Kept out
// of index.js, which passes in the helpers it shares (native module, error conversion, config,
// batch decoding).

/** How a record handed out by a ShareConsumer is settled. */
const AcknowledgeType = Object.freeze({
  /** Processed: never delivered again. */
  ACCEPT: 'accept',
  /** Not processed: delivered again (to any member), its deliveryCount one higher. */
  RELEASE: 'release',
  /** Cannot be processed: never delivered again. */
  REJECT: 'reject',
})

module.exports = function shareConsumer({ native, call, rethrow, configMap, tokenCallback, decodeBatch }) {
  class ShareConsumer {
    /**
     * @param {Record<string, string | number | boolean>} config  `group.id` is required;
     *   `share.acknowledgement.mode`: 'implicit' (default: records not acknowledged are
     *   accepted at the next poll or commitSync) or 'explicit' (acknowledge each one before
     *   the next poll)
     */
    constructor(config) {
      this._native = call(() => new native.NativeShareConsumer(configMap(config), tokenCallback(config)))
    }

    /** Subscribes to these topics (replacing the previous subscription). */
    subscribe(topics) {
      const list = typeof topics === 'string' ? [topics] : (topics.topics ?? topics)
      call(() => this._native.subscribe(list.map(String)))
    }

    /** The partitions the coordinator assigned to this member now. */
    assignment() {
      return call(() => this._native.assignment())
    }

    /**
     * Messages (each with `deliveryCount`) that arrive within `timeoutMs`; empty after it. The
     * acknowledgements of the messages handed out before travel with this fetch.
     */
    async poll(timeoutMs = 1000) {
      const raw = await this._native.poll(Math.max(0, Math.floor(timeoutMs))).catch(rethrow)
      if (!raw) return []
      const messages = decodeBatch(raw.batch, [])
      for (let i = 0; i < messages.length; i++) messages[i].deliveryCount = raw.deliveryCounts[i]
      return messages
    }

    /** Settles a message this consumer handed out (sent with the next poll or commit). */
    acknowledge(message, type = AcknowledgeType.ACCEPT) {
      call(() => this._native.acknowledge(message.topic, message.partition, message.offset, String(type)))
    }

    /** Sends the pending acknowledgements now; rejects with the first partition's error. */
    async commitSync() {
      await this._native.commitSync().catch(rethrow)
    }

    /** Sends the pending acknowledgements in the background (a failure is logged). */
    commitAsync() {
      call(() => this._native.commitAsync())
    }

    /**
     * Leaves the share group: explicit acknowledgements are sent, messages handed out and not
     * acknowledged are released; pending polls resolve empty. Idempotent.
     */
    async close() {
      await this._native.close().catch(rethrow)
    }
  }
  return { ShareConsumer, AcknowledgeType }
}
