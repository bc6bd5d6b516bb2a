// C callbacks of odradek.h adapted to the exported Go functions (which take non-const
// parameters and the context as a cgo.Handle integer).
#include <stdint.h>
#include "odradek.h"
#include "_cgo_export.h"

static void odradek_go_delivery(void *ctx, const OdradekDeliveryReport *reports, size_t count) {
	odradekGoDelivery((uintptr_t)ctx, (OdradekDeliveryReport *)reports, count);
}

static void odradek_go_rebalance(void *ctx, int32_t event, const OdradekTopicPartition *parts, size_t count) {
	odradekGoRebalance((uintptr_t)ctx, event, (OdradekTopicPartition *)parts, count);
}

OdradekError *odradek_go_send_batch(const OdradekProducer *p, const OdradekProduceRecord *records,
		size_t count, uintptr_t ctx) {
	return odradek_producer_send_batch(p, records, count, odradek_go_delivery, (void *)ctx);
}

OdradekError *odradek_go_set_rebalance(const OdradekConsumer *c, uintptr_t ctx) {
	return odradek_consumer_set_rebalance_callback(c, odradek_go_rebalance, (void *)ctx);
}

static void odradek_go_token(void *ctx, const char *config, OdradekTokenResult *result) {
	odradekGoToken((uintptr_t)ctx, (char *)config, result);
}

// Client constructors with the Go token provider behind `token` (0: none).
OdradekError *odradek_go_producer_new(const OdradekConfigEntry *c, size_t n, uintptr_t token,
		OdradekProducer **out) {
	return odradek_producer_new_with_token_callback(c, n, token ? odradek_go_token : NULL, (void *)token, out);
}

OdradekError *odradek_go_consumer_new(const OdradekConfigEntry *c, size_t n, uintptr_t token,
		OdradekConsumer **out) {
	return odradek_consumer_new_with_token_callback(c, n, token ? odradek_go_token : NULL, (void *)token, out);
}

OdradekError *odradek_go_admin_new(const OdradekConfigEntry *c, size_t n, uintptr_t token,
		OdradekAdmin **out) {
	return odradek_admin_new_with_token_callback(c, n, token ? odradek_go_token : NULL, (void *)token, out);
}

static void odradek_go_log(void *ctx, int32_t level, const char *target, const char *message) {
	odradekGoLog((uintptr_t)ctx, level, (char *)target, (char *)message);
}

OdradekError *odradek_go_set_log(int32_t level, uintptr_t ctx) {
	return odradek_set_log_callback(level, ctx ? odradek_go_log : NULL, (void *)ctx);
}

static void odradek_go_error(void *ctx, const OdradekError *error) {
	odradekGoErrorEvent((uintptr_t)ctx, (OdradekError *)error);
}

// The error callbacks with the Go handler behind `ctx` (0: none).
OdradekError *odradek_go_producer_on_error(const OdradekProducer *p, uintptr_t ctx) {
	return odradek_producer_set_error_callback(p, ctx ? odradek_go_error : NULL, (void *)ctx);
}

OdradekError *odradek_go_consumer_on_error(const OdradekConsumer *c, uintptr_t ctx) {
	return odradek_consumer_set_error_callback(c, ctx ? odradek_go_error : NULL, (void *)ctx);
}
