package odradek

/*
#include "odradek.h"
*/
import "C"

import "context"

// OffsetsForTimes returns, for each partition, the first offset whose record timestamp is at
// or after the partition's Offset read as a timestamp in ms since the epoch; OffsetEnd when
// no record is that recent (librdkafka's offsets_for_times).
func (c *Consumer) OffsetsForTimes(ctx context.Context, times []TopicPartition) ([]TopicPartition, error) {
	var out []TopicPartition
	err := c.call(func(h *C.OdradekConsumer) error {
		cp := newCPartitions(times)
		defer cp.free()
		s := newCancelScope(ctx)
		if err := s.finish(ctx, takeError(C.odradek_consumer_offsets_for_times(h, cp.arr, C.size_t(cp.n), s.timeout, s.token))); err != nil {
			return err
		}
		out = goPartitions(cp.slice())
		return nil
	})
	return out, err
}
