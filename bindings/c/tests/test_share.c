/*
 * The share consumer of odradek.h (KIP-932) against the embedded broker, in explicit
 * acknowledgement mode: three records arrive with delivery count 1; polling again before all are
 * acknowledged is refused; released comes back with delivery count 2, rejected never does;
 * after a commit nothing is left; bad arguments are _INVALID_ARG, calls after close _DESTROY.
 * Run by scripts/test.d/55-cabi-go.sh, also under valgrind.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "odradek.h"

static pthread_mutex_t delivery_mu = PTHREAD_MUTEX_INITIALIZER;
static int delivery_errors = 0;

static void on_delivery(void *ctx, const OdradekDeliveryReport *reports, size_t count) {
    (void)ctx;
    pthread_mutex_lock(&delivery_mu);
    for (size_t i = 0; i < count; i++)
        if (reports[i].error) delivery_errors++;
    pthread_mutex_unlock(&delivery_mu);
}

static void produce(const char *bootstrap, const char *topic, const char *const *values, size_t n) {
    OdradekConfigEntry cfg[] = {{"bootstrap.servers", bootstrap}};
    OdradekProducer *p = NULL;
    ok(odradek_producer_new(cfg, 1, &p), "producer new");
    OdradekProduceRecord records[8];
    for (size_t i = 0; i < n && i < 8; i++)
        records[i] = (OdradekProduceRecord){topic, 0, NULL, 0, (const uint8_t *)values[i],
                                            strlen(values[i]), NULL, 0, -1};
    ok(odradek_producer_send_batch(p, records, n, on_delivery, NULL), "send batch");
    ok(odradek_producer_flush(p, 10000, NULL), "flush");
    ok(odradek_producer_close(p, 10000), "producer close");
    odradek_producer_free(p);
    pthread_mutex_lock(&delivery_mu);
    CHECK(delivery_errors == 0, "%d deliveries failed", delivery_errors);
    pthread_mutex_unlock(&delivery_mu);
}

/* Polls (300 ms at a time, up to 20 s) until `want` messages came; returns how many. Copies
 * each message's value (as a string) and delivery count. */
static size_t poll_n(OdradekShareConsumer *c, size_t want, char values[][16], int16_t *counts,
                     int64_t *offsets) {
    size_t got = 0;
    for (int round = 0; round < 66 && got < want; round++) {
        OdradekShareMessageList *list = NULL;
        OdradekError *err = odradek_share_consumer_poll(c, 300, NULL, &list);
        if (err) {
            ok(err, "share poll");
            return got;
        }
        for (size_t i = 0; i < list->count && got < want; i++, got++) {
            const OdradekMessage *m = &list->messages[i];
            CHECK(strcmp(m->topic, "c-share") == 0, "topic %s", m->topic);
            snprintf(values[got], 16, "%.*s", (int)m->value_len, (const char *)m->value);
            counts[got] = list->delivery_counts[i];
            offsets[got] = m->offset;
        }
        odradek_share_message_list_free(list);
    }
    return got;
}

int main(void) {
    OdradekTestBroker *broker = NULL;
    ok(odradek_test_broker_start(NULL, 0, &broker), "broker start");
    if (!broker) return 1;
    const char *bootstrap = odradek_test_broker_bootstrap(broker);
    OdradekConfigEntry admin_cfg[] = {{"bootstrap.servers", bootstrap}};
    OdradekAdmin *admin = NULL;
    ok(odradek_admin_new(admin_cfg, 1, &admin), "admin new");
    OdradekNewTopic topic = {"c-share", 1, 1, NULL, 0};
    ok(odradek_admin_create_topics(admin, &topic, 1, 10000, NULL), "create topic");
    odradek_admin_free(admin);

    OdradekShareConsumer *c = NULL;
    expect_error(odradek_share_consumer_new(admin_cfg, 1, &c), "_INVALID_CONFIG", "no group.id");
    OdradekConfigEntry cfg[] = {{"bootstrap.servers", bootstrap},
                                {"group.id", "c-share-group"},
                                {"share.acknowledgement.mode", "explicit"}};
    ok(odradek_share_consumer_new(cfg, 3, &c), "share consumer new");
    if (!c) return 1;
    const char *topics[] = {"c-share"};
    ok(odradek_share_consumer_subscribe(c, topics, 1), "subscribe");

    /* The share-partition starts at the log's end (share.auto.offset.reset=latest) when the
     * member first fetches it: wait for the assignment, fetch once, then produce. */
    size_t assigned = 0;
    for (int round = 0; round < 200 && assigned == 0; round++) {
        OdradekShareMessageList *list = NULL;
        ok(odradek_share_consumer_poll(c, 100, NULL, &list), "poll for the assignment");
        odradek_share_message_list_free(list);
        OdradekTopicPartition *parts = NULL;
        ok(odradek_share_consumer_assignment(c, &parts, &assigned), "assignment");
        CHECK(assigned == 0 || (strcmp(parts[0].topic, "c-share") == 0 && parts[0].partition == 0),
              "assigned %s", parts ? parts[0].topic : "");
        odradek_topic_partitions_free(parts, assigned);
    }
    CHECK(assigned == 1, "assignment of %zu partitions", assigned);
    OdradekShareMessageList *empty = NULL;
    ok(odradek_share_consumer_poll(c, 100, NULL, &empty), "first fetch");
    CHECK(empty && empty->count == 0, "records before any was produced");
    odradek_share_message_list_free(empty);

    const char *values[] = {"accept", "release", "reject"};
    produce(bootstrap, "c-share", values, 3);
    char got[4][16];
    int16_t counts[4];
    int64_t offsets[4];
    size_t n = poll_n(c, 3, got, counts, offsets);
    CHECK(n == 3, "first poll got %zu of 3", n);
    for (size_t i = 0; i < n; i++)
        CHECK(strcmp(got[i], values[i]) == 0 && counts[i] == 1 && offsets[i] == (int64_t)i,
              "record %zu: %s count %d offset %lld", i, got[i], counts[i], (long long)offsets[i]);
    expect_error(odradek_share_consumer_acknowledge(c, "c-share", 0, 0, 7), "_INVALID_ARG", "bad type");
    expect_error(odradek_share_consumer_acknowledge(c, NULL, 0, 0, ODRADEK_ACKNOWLEDGE_ACCEPT),
                 "_INVALID_ARG", "NULL topic");
    ok(odradek_share_consumer_acknowledge(c, "c-share", 0, 0, ODRADEK_ACKNOWLEDGE_ACCEPT), "accept");
    OdradekShareMessageList *refused = NULL;
    expect_error(odradek_share_consumer_poll(c, 10, NULL, &refused), "_INVALID_ARG",
                 "explicit mode: poll with records unacknowledged");
    expect_error(odradek_share_consumer_acknowledge(c, "c-share", 0, 0, ODRADEK_ACKNOWLEDGE_REJECT),
                 "_INVALID_ARG", "acknowledged twice");
    ok(odradek_share_consumer_acknowledge(c, "c-share", 0, 1, ODRADEK_ACKNOWLEDGE_RELEASE), "release");
    ok(odradek_share_consumer_acknowledge(c, "c-share", 0, 2, ODRADEK_ACKNOWLEDGE_REJECT), "reject");

    n = poll_n(c, 1, got, counts, offsets);
    CHECK(n == 1 && strcmp(got[0], "release") == 0 && counts[0] == 2,
          "released record: %zu, %s, delivery count %d", n, n ? got[0] : "", n ? counts[0] : 0);
    ok(odradek_share_consumer_acknowledge(c, "c-share", 0, 1, ODRADEK_ACKNOWLEDGE_ACCEPT), "accept again");
    ok(odradek_share_consumer_commit_sync(c, 10000, NULL), "commit sync");
    OdradekShareMessageList *rest = NULL;
    ok(odradek_share_consumer_poll(c, 300, NULL, &rest), "poll after commit");
    CHECK(rest && rest->count == 0, "%zu records after every one was settled", rest ? rest->count : 0);
    odradek_share_message_list_free(rest);
    ok(odradek_share_consumer_commit_async(c), "commit async");

    ok(odradek_share_consumer_close(c, 10000), "close");
    ok(odradek_share_consumer_close(c, 10000), "close twice");
    OdradekShareMessageList *closed = NULL;
    expect_error(odradek_share_consumer_poll(c, 10, NULL, &closed), "_DESTROY", "poll after close");
    odradek_share_consumer_free(c);
    odradek_share_consumer_free(NULL);
    odradek_share_message_list_free(NULL);
    odradek_test_broker_stop(broker);

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_share: all checks passed\n");
    return 0;
}
