/*
 * A C program over every function of odradek.h against the embedded broker: errors, config
 * errors naming the key, admin, single and batch sends with delivery callbacks, manual
 * assignment, seek/position, polls (blocking, async, cancelled), a group with rebalance
 * callbacks, commit/committed, configs, groups, lag, record deletion, the cluster, offsets by time,
 * transactions (commit, abort, offsets, an abortable record, fencing),
 * close/free of everything, and the SASL_SSL embedded broker with SCRAM and an OAUTHBEARER token
 * callback. Run by scripts/test.d/55-cabi-go.sh,
 * also under valgrind (no definite leaks after close).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "odradek.h"

/* A one-shot latch for callbacks. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int delivered;
    int failed;
    int64_t first_offset;
    char error_name[64];
    int messages;
} latch_t;

static void latch_init(latch_t *l) {
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
}

static void latch_wait(latch_t *l) {
    pthread_mutex_lock(&l->mu);
    while (!l->done) pthread_cond_wait(&l->cv, &l->mu);
    pthread_mutex_unlock(&l->mu);
}

static void latch_destroy(latch_t *l) {
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
}

static void on_delivery(void *ctx, const OdradekDeliveryReport *reports, size_t count) {
    latch_t *l = ctx;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < count; i++) {
        if (reports[i].error) {
            l->failed++;
            snprintf(l->error_name, sizeof l->error_name, "%s", reports[i].error->name);
        } else {
            if (l->delivered == 0) l->first_offset = reports[i].offset;
            l->delivered++;
        }
    }
    l->done = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

static void on_poll(void *ctx, const OdradekMessageList *messages, const OdradekError *error) {
    latch_t *l = ctx;
    pthread_mutex_lock(&l->mu);
    if (error) {
        snprintf(l->error_name, sizeof l->error_name, "%s", error->name);
    } else {
        l->messages = (int)messages->count;
    }
    l->done = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

typedef struct {
    pthread_mutex_t mu;
    int assigned;
    int revoked;
} rebalance_t;

static void on_rebalance(void *ctx, int32_t event, const OdradekTopicPartition *parts, size_t count) {
    rebalance_t *r = ctx;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < count; i++) {
        if (strcmp(parts[i].topic, "c-group") != 0) continue;
        if (event == ODRADEK_REBALANCE_ASSIGNED) r->assigned++;
        if (event == ODRADEK_REBALANCE_REVOKED || event == ODRADEK_REBALANCE_LOST) r->revoked++;
    }
    pthread_mutex_unlock(&r->mu);
}

typedef struct {
    OdradekConsumer *consumer;
    OdradekCancel *cancel;
    OdradekError *result;
} cancel_arg_t;

static void *poll_forever(void *p) {
    cancel_arg_t *a = p;
    OdradekMessageList *list = NULL;
    a->result = odradek_consumer_poll(a->consumer, 10, -1, a->cancel, &list);
    odradek_message_list_free(list);
    return NULL;
}

/* Polls until `want` messages or 20 s; checks record 42 of topic c-data when seen. */
static int consume_n(OdradekConsumer *c, int want, int check_content) {
    int got = 0;
    for (int round = 0; round < 200 && got < want; round++) {
        OdradekMessageList *list = NULL;
        OdradekError *err = odradek_consumer_poll(c, 64, 100, NULL, &list);
        if (err) {
            ok(err, "poll");
            break;
        }
        for (size_t i = 0; i < list->count; i++) {
            const OdradekMessage *m = &list->messages[i];
            if (check_content && m->offset == 42 && m->partition == 0) {
                CHECK(strcmp(m->topic, "c-data") == 0, "topic %s", m->topic);
                CHECK(m->key && m->key_len == 6 && memcmp(m->key, "key-42", 6) == 0, "key");
                CHECK(m->value && m->value_len == 8 && memcmp(m->value, "value-42", 8) == 0, "value");
                CHECK(m->headers_len == 2, "headers_len %zu", m->headers_len);
                if (m->headers_len == 2) {
                    CHECK(m->headers[0].name_len == 1 && m->headers[0].name[0] == 'h', "header name");
                    CHECK(m->headers[0].value_len == 2 && memcmp(m->headers[0].value, "v1", 2) == 0,
                          "header value");
                    CHECK(m->headers[1].value == NULL, "null header value");
                }
            }
            if (check_content && m->offset == 100) {
                CHECK(m->key == NULL, "null key");
                CHECK(m->value != NULL && m->value_len == 0, "empty (non-null) value");
            }
        }
        got += (int)list->count;
        odradek_message_list_free(list);
    }
    return got;
}

/* An unsecured JWT (alg none) for alice, expiring in 2100: the embedded broker's OAUTHBEARER
 * validator accepts it. */
#define ALICE_JWT "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMH0."

typedef struct {
    pthread_mutex_t mu;
    int calls;
    char config[64];
    int refuse;
} token_ctx_t;

static void on_token(void *ctx, const char *oauthbearer_config, OdradekTokenResult *result) {
    token_ctx_t *t = ctx;
    pthread_mutex_lock(&t->mu);
    t->calls++;
    snprintf(t->config, sizeof t->config, "%s", oauthbearer_config);
    pthread_mutex_unlock(&t->mu);
    if (t->refuse) {
        ok(odradek_token_fail(result, "no token for you"), "token fail");
        return;
    }
    ok(odradek_token_set(result, ALICE_JWT, (int64_t)4102444800 * 1000, "alice"), "token set");
    ok(odradek_token_add_extension(result, "traceid", "abc"), "token extension");
    expect_error(odradek_token_add_extension(result, "a=b", "x"), "_INVALID_ARG", "bad extension key");
}

/* The embedded SASL_SSL broker: SCRAM with its CA works, a wrong password is a fatal
 * _AUTHENTICATION; OAUTHBEARER through a token callback, and a callback's refusal. */
static void test_security(void) {
    OdradekTestBroker *broker = NULL;
    OdradekConfigEntry props[] = {{"sasl.enabled.mechanisms", "SCRAM-SHA-512,OAUTHBEARER"}};
    ok(odradek_test_broker_start_sasl_ssl("alice", "alice-secret", props, 1, &broker),
       "sasl_ssl broker start");
    if (!broker) return;
    const char *bootstrap = odradek_test_broker_bootstrap(broker);
    const char *ca = odradek_test_broker_ca_pem(broker);
    CHECK(ca && strstr(ca, "BEGIN CERTIFICATE"), "CA PEM");
    OdradekConfigEntry scram[] = {{"bootstrap.servers", bootstrap}, {"security.protocol", "SASL_SSL"},
                                  {"ssl.ca.pem", ca}, {"sasl.mechanism", "SCRAM-SHA-512"},
                                  {"sasl.username", "alice"}, {"sasl.password", "alice-secret"}};
    OdradekAdmin *admin = NULL;
    ok(odradek_admin_new(scram, 6, &admin), "scram admin");
    OdradekNewTopic topic[] = {{"c-secure", 1, 1, NULL, 0}};
    ok(odradek_admin_create_topics(admin, topic, 1, 10000, NULL), "create topic over SASL_SSL");
    odradek_admin_free(admin);

    scram[5].value = "wrong-password";
    ok(odradek_admin_new(scram, 6, &admin), "admin with a wrong password");
    OdradekTopicInfo *infos = NULL;
    size_t n = 0;
    OdradekError *err = odradek_admin_list_topics(admin, 10000, NULL, &infos, &n);
    CHECK(err && err->error_class == ODRADEK_CLASS_FATAL && !err->retriable, "wrong password is fatal");
    CHECK(err && !strstr(err->message, "wrong-password"), "the password is not in the message");
    expect_error(err, "_AUTHENTICATION", "wrong password");
    odradek_admin_free(admin);

    OdradekConfigEntry oauth[] = {{"bootstrap.servers", bootstrap}, {"security.protocol", "SASL_SSL"},
                                  {"ssl.ca.pem", ca}, {"sasl.mechanism", "OAUTHBEARER"},
                                  {"sasl.oauthbearer.config", "scope=c-test"}};
    token_ctx_t tokens = {PTHREAD_MUTEX_INITIALIZER, 0, "", 0};
    ok(odradek_admin_new_with_token_callback(oauth, 5, on_token, &tokens, &admin), "oauth admin");
    ok(odradek_admin_list_topics(admin, 10000, NULL, &infos, &n), "list topics with a callback token");
    int seen = 0;
    for (size_t i = 0; i < n; i++) seen += strcmp(infos[i].name, "c-secure") == 0;
    CHECK(seen == 1, "c-secure listed %d times", seen);
    odradek_topic_infos_free(infos, n);
    odradek_admin_free(admin);
    pthread_mutex_lock(&tokens.mu);
    CHECK(tokens.calls >= 1 && strcmp(tokens.config, "scope=c-test") == 0, "token callback: %d calls, config %s",
          tokens.calls, tokens.config);
    pthread_mutex_unlock(&tokens.mu);

    OdradekProducer *p = NULL;
    token_ctx_t refusing = {PTHREAD_MUTEX_INITIALIZER, 0, "", 1};
    ok(odradek_producer_new_with_token_callback(oauth, 5, on_token, &refusing, &p), "oauth producer");
    latch_t refused;
    latch_init(&refused);
    OdradekProduceRecord rec = {"c-secure", -1, NULL, 0, (const uint8_t *)"v", 1, NULL, 0, -1};
    ok(odradek_producer_send(p, &rec, on_delivery, &refused), "send with a refusing callback");
    latch_wait(&refused);
    CHECK(refused.failed == 1 && strcmp(refused.error_name, "_AUTHENTICATION") == 0,
          "refused token: %s", refused.error_name);
    latch_destroy(&refused);
    odradek_producer_free(p);
    odradek_test_broker_stop(broker);
}

/* ACL and SCRAM-user admin on an embedded SASL_SSL broker with an authorizer: alice (a super
 * user) grants bob a prefixed READ, lists and deletes it; sets, lists and deletes bob's SCRAM
 * credential; bob, without ACLs, cannot create ACLs. */
static void test_acls_and_users(void) {
    OdradekTestBroker *broker = NULL;
    OdradekConfigEntry props[] = {
        {"authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"},
        {"super.users", "User:alice"}};
    ok(odradek_test_broker_start_sasl_ssl("alice", "alice-secret", props, 2, &broker),
       "sasl_ssl broker with an authorizer");
    if (!broker) return;
    OdradekConfigEntry alice[] = {{"bootstrap.servers", odradek_test_broker_bootstrap(broker)},
                                  {"security.protocol", "SASL_SSL"},
                                  {"ssl.ca.pem", odradek_test_broker_ca_pem(broker)},
                                  {"sasl.mechanism", "SCRAM-SHA-512"},
                                  {"sasl.username", "alice"},
                                  {"sasl.password", "alice-secret"}};
    OdradekAdmin *admin = NULL;
    ok(odradek_admin_new(alice, 6, &admin), "alice's admin");
    OdradekAclBinding grant = {ODRADEK_ACL_RESOURCE_TOPIC, "c-acl-", ODRADEK_ACL_PATTERN_PREFIXED,
                               "User:bob", "*", ODRADEK_ACL_OPERATION_READ, ODRADEK_ACL_PERMISSION_ALLOW};
    ok(odradek_admin_create_acls(admin, &grant, 1, 10000, NULL), "create an ACL");
    OdradekAclBinding bad = grant;
    bad.operation = 99;
    expect_error(odradek_admin_create_acls(admin, &bad, 1, 10000, NULL), "_INVALID_ARG", "unknown operation");

    OdradekAclBinding for_bob = {ODRADEK_ACL_RESOURCE_ANY, NULL, ODRADEK_ACL_PATTERN_ANY, "User:bob",
                                 NULL, ODRADEK_ACL_OPERATION_ANY, ODRADEK_ACL_PERMISSION_ANY};
    OdradekAclBinding *acls = NULL;
    size_t n = 0;
    ok(odradek_admin_describe_acls(admin, &for_bob, 10000, NULL, &acls, &n), "describe ACLs");
    CHECK(n == 1 && acls[0].resource_type == ODRADEK_ACL_RESOURCE_TOPIC &&
              strcmp(acls[0].resource_name, "c-acl-") == 0 &&
              acls[0].pattern_type == ODRADEK_ACL_PATTERN_PREFIXED &&
              acls[0].operation == ODRADEK_ACL_OPERATION_READ,
          "described %zu ACLs", n);
    odradek_acl_bindings_free(acls, n);

    ok(odradek_admin_upsert_scram_credential(admin, "bob", ODRADEK_SCRAM_SHA_512, "bob-secret", 4096,
                                             10000, NULL),
       "set bob's SCRAM-SHA-512 password");
    const char *bob_name[] = {"bob"};
    OdradekScramCredential *creds = NULL;
    ok(odradek_admin_describe_scram_credentials(admin, bob_name, 1, 10000, NULL, &creds, &n),
       "describe bob's credentials");
    CHECK(n == 1 && strcmp(creds[0].user, "bob") == 0 && creds[0].mechanism == ODRADEK_SCRAM_SHA_512 &&
              creds[0].iterations == 4096,
          "bob's credentials: %zu", n);
    odradek_scram_credentials_free(creds, n);

    /* bob logs in with the new password, and may not create ACLs. */
    OdradekConfigEntry bob[6];
    memcpy(bob, alice, sizeof bob);
    bob[4].value = "bob";
    bob[5].value = "bob-secret";
    OdradekAdmin *bob_admin = NULL;
    ok(odradek_admin_new(bob, 6, &bob_admin), "bob's admin");
    expect_error(odradek_admin_create_acls(bob_admin, &grant, 1, 10000, NULL), "CLUSTER_AUTHORIZATION_FAILED",
                 "bob creates an ACL");
    odradek_admin_free(bob_admin);

    ok(odradek_admin_delete_acls(admin, &for_bob, 1, 10000, NULL, &acls, &n), "delete ACLs");
    CHECK(n == 1 && strcmp(acls[0].principal, "User:bob") == 0, "deleted %zu ACLs", n);
    odradek_acl_bindings_free(acls, n);
    ok(odradek_admin_delete_scram_credential(admin, "bob", ODRADEK_SCRAM_SHA_512, 10000, NULL),
       "delete bob's credential");
    ok(odradek_admin_describe_scram_credentials(admin, NULL, 0, 10000, NULL, &creds, &n), "describe every user");
    int bobs = 0;
    for (size_t i = 0; i < n; i++) bobs += strcmp(creds[i].user, "bob") == 0;
    CHECK(bobs == 0, "bob still has %d credential(s)", bobs);
    odradek_scram_credentials_free(creds, n);
    odradek_admin_free(admin);
    odradek_test_broker_stop(broker);
}

/* Sends one record to c-txn (or, with `big`, a record over c-small's limit) and waits. */
static void send_txn(OdradekProducer *p, const char *value, int big, const char *want_error) {
    static char large[4096];
    memset(large, 'x', sizeof large);
    OdradekProduceRecord r = {big ? "c-small" : "c-txn", 0, NULL, 0,
                              (const uint8_t *)(big ? large : value), big ? sizeof large : strlen(value),
                              NULL, 0, -1};
    latch_t l;
    latch_init(&l);
    ok(odradek_producer_send(p, &r, on_delivery, &l), "send in transaction");
    latch_wait(&l);
    if (want_error)
        CHECK(l.failed == 1 && strcmp(l.error_name, want_error) == 0, "expected %s, got %s",
              want_error, l.error_name);
    else
        CHECK(l.delivered == 1, "transactional send failed: %s", l.error_name);
    latch_destroy(&l);
}

/* Transactions: commit with the group's offsets, abort, an abortable record, fencing; a
 * read_committed consumer sees only committed values. `gc` is a member of c-test-group. */
static void test_transactions(const char *bootstrap, OdradekConsumer *gc) {
    OdradekConfigEntry plain_cfg[] = {{"bootstrap.servers", bootstrap}};
    OdradekProducer *plain = NULL;
    ok(odradek_producer_new(plain_cfg, 1, &plain), "plain producer");
    OdradekError *err = odradek_producer_begin_transaction(plain);
    CHECK(err && err->error_class == ODRADEK_CLASS_PERMANENT, "begin without transactional.id");
    expect_error(err, "_INVALID_ARG", "begin without transactional.id");
    odradek_producer_free(plain);

    OdradekConfigEntry tcfg[] = {{"bootstrap.servers", bootstrap}, {"transactional.id", "c-tx"}};
    OdradekProducer *tp = NULL;
    ok(odradek_producer_new(tcfg, 2, &tp), "transactional producer");
    ok(odradek_producer_init_transactions(tp, 10000, NULL), "init_transactions");
    OdradekGroupMetadata *meta = NULL;
    ok(odradek_consumer_group_metadata(gc, &meta), "group metadata");
    expect_error(odradek_producer_send_offsets_to_transaction(tp, NULL, 0, meta, 1000, NULL),
                 "_INVALID_ARG", "no offsets");

    ok(odradek_producer_begin_transaction(tp), "begin 1");
    send_txn(tp, "committed", 0, NULL);
    OdradekTopicPartition offsets[] = {{"c-group", 1, 7}};
    ok(odradek_producer_send_offsets_to_transaction(tp, offsets, 1, meta, 10000, NULL), "send offsets");
    expect_error(odradek_producer_send_offsets_to_transaction(tp, offsets, 1, NULL, 1000, NULL),
                 "_INVALID_ARG", "NULL group metadata");
    ok(odradek_producer_commit_transaction(tp, 10000, NULL), "commit");
    OdradekTopicPartition committed[] = {{"c-group", 1, 0}};
    ok(odradek_consumer_committed(gc, committed, 1, 10000, NULL), "committed after commit");
    CHECK(committed[0].offset == 7, "transaction's offset %lld", (long long)committed[0].offset);

    ok(odradek_producer_begin_transaction(tp), "begin 2");
    send_txn(tp, "aborted", 0, NULL);
    ok(odradek_producer_abort_transaction(tp, 10000, NULL), "abort");

    /* A failed record makes the transaction abortable; after the abort the producer goes on. */
    ok(odradek_producer_begin_transaction(tp), "begin 3");
    send_txn(tp, NULL, 1, "MESSAGE_TOO_LARGE");
    err = odradek_producer_commit_transaction(tp, 10000, NULL);
    CHECK(err && err->error_class == ODRADEK_CLASS_ABORTABLE && !err->retriable,
          "commit after a failed record: class %d", err ? err->error_class : -1);
    odradek_error_free(err);
    ok(odradek_producer_abort_transaction(tp, 10000, NULL), "abort the abortable");
    ok(odradek_producer_begin_transaction(tp), "begin 4");
    send_txn(tp, "committed-again", 0, NULL);
    ok(odradek_producer_commit_transaction(tp, 10000, NULL), "commit after abort");

    /* A second producer with the same id fences the first. */
    ok(odradek_producer_begin_transaction(tp), "begin 5");
    send_txn(tp, "zombie", 0, NULL);
    OdradekProducer *tp2 = NULL;
    ok(odradek_producer_new(tcfg, 2, &tp2), "second transactional producer");
    ok(odradek_producer_init_transactions(tp2, 10000, NULL), "init_transactions 2");
    err = odradek_producer_commit_transaction(tp, 10000, NULL);
    CHECK(err && err->error_class == ODRADEK_CLASS_FATAL, "fenced commit: class %d",
          err ? err->error_class : -1);
    expect_error(err, "PRODUCER_FENCED", "fenced commit");
    expect_error(odradek_producer_begin_transaction(tp), "PRODUCER_FENCED", "begin after fenced");
    odradek_group_metadata_free(meta);
    odradek_producer_free(tp);
    ok(odradek_producer_close(tp2, 10000), "close producer 2");
    odradek_producer_free(tp2);

    OdradekConfigEntry rc_cfg[] = {{"bootstrap.servers", bootstrap}, {"isolation.level", "read_committed"}};
    OdradekConsumer *rc = NULL;
    ok(odradek_consumer_new(rc_cfg, 2, &rc), "read_committed consumer");
    OdradekTopicPartition assign[] = {{"c-txn", 0, ODRADEK_OFFSET_BEGINNING}};
    ok(odradek_consumer_assign(rc, assign, 1, 10000), "assign c-txn");
    const char *want[] = {"committed", "committed-again"};
    int seen = 0;
    for (int round = 0; round < 50 && seen < 2; round++) {
        OdradekMessageList *list = NULL;
        ok(odradek_consumer_poll(rc, 16, 100, NULL, &list), "poll c-txn");
        for (size_t i = 0; list && i < list->count; i++, seen++) {
            const OdradekMessage *m = &list->messages[i];
            CHECK(seen < 2 && m->value_len == strlen(want[seen]) &&
                      memcmp(m->value, want[seen], m->value_len) == 0,
                  "read_committed record %d: %.*s", seen, (int)m->value_len, (const char *)m->value);
        }
        odradek_message_list_free(list);
    }
    CHECK(seen == 2, "read_committed saw %d of 2 records", seen);
    ok(odradek_consumer_close(rc, 10000), "close read_committed consumer");
    odradek_consumer_free(rc);
}

/* Configs, cluster, offsets by time, record deletion and group admin, after the group consumer
 * of main() committed c-group 0 -> 5 and its transaction 1 -> 7 for c-test-group, and left. */
static void test_admin_groups_configs(const char *bootstrap, OdradekAdmin *admin) {
    OdradekClusterDescription *cluster = NULL;
    ok(odradek_admin_describe_cluster(admin, 10000, NULL, &cluster), "describe cluster");
    if (cluster) {
        CHECK(strlen(cluster->cluster_id) > 0 && cluster->broker_count == 1 && cluster->brokers[0].port > 0 &&
                  cluster->controller_id == cluster->brokers[0].id,
              "cluster %s with %zu brokers", cluster->cluster_id, cluster->broker_count);
    }
    odradek_cluster_description_free(cluster);

    const char *max_bytes[] = {"max.message.bytes"};
    OdradekConfigDescription *configs = NULL;
    size_t n = 0;
    ok(odradek_admin_describe_configs(admin, ODRADEK_CONFIG_RESOURCE_TOPIC, "c-small", max_bytes, 1, 10000, NULL,
                                      &configs, &n),
       "describe configs");
    CHECK(n == 1 && strcmp(configs[0].name, "max.message.bytes") == 0 && configs[0].value &&
              strcmp(configs[0].value, "1024") == 0 && !configs[0].is_default,
          "max.message.bytes of c-small: %zu", n);
    odradek_config_descriptions_free(configs, n);
    OdradekConfigEntry set[] = {{"retention.ms", "3600000"}};
    ok(odradek_admin_alter_configs(admin, ODRADEK_CONFIG_RESOURCE_TOPIC, "c-small", set, 1, 10000, NULL), "set a config");
    const char *retention[] = {"retention.ms"};
    ok(odradek_admin_describe_configs(admin, ODRADEK_CONFIG_RESOURCE_TOPIC, "c-small", retention, 1, 10000, NULL,
                                      &configs, &n),
       "describe the set config");
    CHECK(n == 1 && configs[0].value && strcmp(configs[0].value, "3600000") == 0, "retention.ms set: %zu", n);
    odradek_config_descriptions_free(configs, n);
    OdradekConfigEntry revert[] = {{"retention.ms", NULL}};
    ok(odradek_admin_alter_configs(admin, ODRADEK_CONFIG_RESOURCE_TOPIC, "c-small", revert, 1, 10000, NULL),
       "revert a config");
    ok(odradek_admin_describe_configs(admin, ODRADEK_CONFIG_RESOURCE_TOPIC, "c-small", retention, 1, 10000, NULL,
                                      &configs, &n),
       "describe the reverted config");
    CHECK(n == 1 && configs[0].is_default, "retention.ms reverted: %zu", n);
    odradek_config_descriptions_free(configs, n);
    expect_error(odradek_admin_describe_configs(admin, 3, "g", NULL, 0, 10000, NULL, &configs, &n), "_INVALID_ARG",
                 "configs of a group");
    expect_error(odradek_admin_describe_configs(admin, ODRADEK_CONFIG_RESOURCE_BROKER, "one", NULL, 0, 10000, NULL,
                                                &configs, &n),
                 "_INVALID_ARG", "a broker named by a word");

    /* Offsets by time on c-data (101 records on partition 0 written just now, none on 1). */
    OdradekConfigEntry client_cfg[] = {{"bootstrap.servers", bootstrap}};
    OdradekConsumer *c = NULL;
    ok(odradek_consumer_new(client_cfg, 1, &c), "consumer for offsets_for_times");
    OdradekTopicPartition times[] = {{"c-data", 0, 0}, {"c-data", 0, 4102444800000LL}, {"c-data", 1, 0}};
    ok(odradek_consumer_offsets_for_times(c, times, 3, 10000, NULL), "offsets for times");
    CHECK(times[0].offset == 0 && times[1].offset == ODRADEK_OFFSET_END && times[2].offset == ODRADEK_OFFSET_END,
          "offsets for times %lld %lld %lld", (long long)times[0].offset, (long long)times[1].offset,
          (long long)times[2].offset);
    OdradekTopicPartition negative[] = {{"c-data", 0, -5}};
    expect_error(odradek_consumer_offsets_for_times(c, negative, 1, 10000, NULL), "_INVALID_ARG", "a negative time");

    OdradekTopicPartition before[] = {{"c-data", 0, 50}};
    ok(odradek_admin_delete_records(admin, before, 1, 10000, NULL), "delete records");
    CHECK(before[0].offset == 50, "low watermark after delete %lld", (long long)before[0].offset);
    int64_t low = -5, high = -5;
    ok(odradek_consumer_watermarks(c, "c-data", 0, &low, &high, 10000, NULL), "watermarks after delete");
    CHECK(low == 50, "low watermark %lld", (long long)low);
    ok(odradek_consumer_close(c, 10000), "close the offsets_for_times consumer");
    odradek_consumer_free(c);

    /* Groups. */
    OdradekGroupListing *groups = NULL;
    ok(odradek_admin_list_groups(admin, 10000, NULL, &groups, &n), "list groups");
    int listed = 0;
    for (size_t i = 0; i < n; i++) listed += strcmp(groups[i].group_id, "c-test-group") == 0;
    CHECK(listed == 1, "c-test-group listed %d times", listed);
    odradek_group_listings_free(groups, n);
    const char *names[] = {"c-test-group", "c-never"};
    OdradekGroupDescription *described = NULL;
    ok(odradek_admin_describe_groups(admin, names, 2, 10000, NULL, &described, &n), "describe groups");
    CHECK(n == 2 && strcmp(described[0].state, "Empty") == 0 && described[0].member_count == 0 &&
              strcmp(described[1].state, "Dead") == 0,
          "described %zu groups", n);
    odradek_group_descriptions_free(described, n);
    OdradekTopicPartition *offsets = NULL;
    ok(odradek_admin_list_group_offsets(admin, "c-test-group", 10000, NULL, &offsets, &n), "list group offsets");
    CHECK(n == 2 && strcmp(offsets[0].topic, "c-group") == 0 && offsets[0].offset == 5 && offsets[1].offset == 7,
          "group offsets: %zu", n);
    odradek_topic_partitions_free(offsets, n);
    const char *lag_topics[] = {"c-group"};
    OdradekPartitionLag *lags = NULL;
    ok(odradek_admin_group_lag(admin, "c-test-group", lag_topics, 1, 10000, NULL, &lags, &n), "group lag");
    CHECK(n == 2 && lags[0].partition == 0 && lags[0].committed == 5 && lags[0].log_end == 20 && lags[0].lag == 15 &&
              lags[1].committed == 7 && lags[1].lag == 13,
          "lag: %zu", n);
    odradek_partition_lags_free(lags, n);
    OdradekTopicPartition moved[] = {{"c-group", 0, 10}};
    ok(odradek_admin_alter_group_offsets(admin, "c-test-group", moved, 1, 10000, NULL), "alter group offsets");
    OdradekTopicPartition dropped[] = {{"c-group", 1, 0}};
    ok(odradek_admin_delete_group_offsets(admin, "c-test-group", dropped, 1, 10000, NULL), "delete group offsets");
    ok(odradek_admin_list_group_offsets(admin, "c-test-group", 10000, NULL, &offsets, &n), "list group offsets again");
    CHECK(n == 1 && offsets[0].partition == 0 && offsets[0].offset == 10, "group offsets after changes: %zu", n);
    odradek_topic_partitions_free(offsets, n);
    ok(odradek_admin_delete_groups(admin, names, 1, 10000, NULL), "delete group");
    ok(odradek_admin_describe_groups(admin, names, 1, 10000, NULL, &described, &n), "describe the deleted group");
    CHECK(n == 1 && strcmp(described[0].state, "Dead") == 0, "deleted group: %s", n ? described[0].state : "?");
    odradek_group_descriptions_free(described, n);
}

/* The embedded cluster: one node (quick, also under valgrind) killed, restarted on its port and
 * isolated; errors for a bad node id and for a node that is not running. The three-node
 * fail-over itself is the leader_failover conformance scenario (Go and .NET runners). */
static void test_cluster(void) {
    OdradekTestCluster *cluster = NULL;
    expect_error(odradek_test_cluster_start(0, NULL, 0, &cluster), "_INVALID_ARG", "0 nodes");
    ok(odradek_test_cluster_start(1, NULL, 0, &cluster), "cluster start");
    if (!cluster) return;
    CHECK(odradek_test_cluster_node_count(cluster) == 1, "node count");
    char *before = NULL;
    ok(odradek_test_cluster_bootstrap(cluster, &before), "bootstrap");
    CHECK(before && strncmp(before, "127.0.0.1:", 10) == 0, "bootstrap %s", before ? before : "NULL");
    int32_t leader = 0;
    ok(odradek_test_cluster_leader(cluster, "no-such-topic", 0, &leader), "leader");
    CHECK(leader == -1, "no leader of an unknown topic: %d", leader);
    expect_error(odradek_test_cluster_kill(cluster, 7), "_INVALID_ARG", "kill node 7");
    ok(odradek_test_cluster_kill(cluster, 1), "kill");
    expect_error(odradek_test_cluster_isolate(cluster, 1), "_INVALID_ARG", "isolate a killed node");
    ok(odradek_test_cluster_restart(cluster, 1), "restart");
    char *after = NULL;
    ok(odradek_test_cluster_bootstrap(cluster, &after), "bootstrap after restart");
    CHECK(before && after && strcmp(before, after) == 0, "same port after restart: %s, %s",
          before ? before : "NULL", after ? after : "NULL");
    ok(odradek_test_cluster_isolate(cluster, 1), "isolate");
    ok(odradek_test_cluster_heal(cluster, 1), "heal");
    odradek_string_free(before);
    odradek_string_free(after);
    odradek_test_cluster_stop(cluster);
    odradek_test_cluster_stop(NULL);
}

int main(void) {
    CHECK(odradek_version() && strlen(odradek_version()) > 0, "version");

    /* Errors: NULL arguments, config errors naming the key. */
    OdradekProducer *p = NULL;
    expect_error(odradek_producer_new(NULL, 0, NULL), "_INVALID_ARG", "NULL out");
    OdradekConfigEntry bad[] = {{"linger.msec", "5"}};
    OdradekError *err = odradek_producer_new(bad, 1, &p);
    CHECK(err && strstr(err->message, "linger.msec") != NULL, "config error names the key");
    CHECK(err && err->code == -186 && !err->retriable && err->error_class == ODRADEK_CLASS_PERMANENT,
          "config error code/class");
    expect_error(err, "_INVALID_CONFIG", "unknown key");
    OdradekConfigEntry bad_value[] = {{"acks", "most"}};
    expect_error(odradek_producer_new(bad_value, 1, &p), "_INVALID_CONFIG", "bad value");
    expect_error(odradek_producer_send(NULL, NULL, NULL, NULL), "_INVALID_ARG", "NULL producer");

    /* The embedded broker. */
    OdradekTestBroker *broker = NULL;
    OdradekConfigEntry props[] = {{"num.partitions", "1"}};
    ok(odradek_test_broker_start(props, 1, &broker), "broker start");
    if (!broker) return 1;
    const char *bootstrap = odradek_test_broker_bootstrap(broker);
    CHECK(bootstrap && strchr(bootstrap, ':'), "bootstrap %s", bootstrap);

    /* Admin. */
    OdradekConfigEntry client_cfg[] = {{"bootstrap.servers", bootstrap}};
    OdradekAdmin *admin = NULL;
    ok(odradek_admin_new(client_cfg, 1, &admin), "admin new");
    OdradekConfigEntry small_cfg[] = {{"max.message.bytes", "1024"}};
    OdradekNewTopic topics[] = {
        {"c-data", 2, 1, NULL, 0},
        {"c-group", 2, 1, NULL, 0},
        {"c-small", 1, 1, small_cfg, 1},
        {"c-delete", 1, 1, NULL, 0},
        {"c-txn", 1, 1, NULL, 0},
    };
    ok(odradek_admin_create_topics(admin, topics, 5, 10000, NULL), "create topics");
    expect_error(odradek_admin_create_topics(admin, topics, 1, 10000, NULL), "TOPIC_ALREADY_EXISTS",
                 "create twice");
    ok(odradek_admin_create_partitions(admin, "c-delete", 3, 10000, NULL), "create partitions");
    OdradekTopicInfo *infos = NULL;
    size_t ninfos = 0;
    ok(odradek_admin_list_topics(admin, 10000, NULL, &infos, &ninfos), "list topics");
    int seen = 0;
    for (size_t i = 0; i < ninfos; i++) {
        if (strcmp(infos[i].name, "c-data") == 0 && infos[i].partitions == 2) seen++;
        if (strcmp(infos[i].name, "c-delete") == 0 && infos[i].partitions == 3) seen++;
    }
    CHECK(seen == 2, "list_topics saw %d of 2", seen);
    odradek_topic_infos_free(infos, ninfos);
    const char *to_delete[] = {"c-delete"};
    ok(odradek_admin_delete_topics(admin, to_delete, 1, 10000, NULL), "delete topics");

    /* Producer: one record, then a batch of 100 to partition 0, then one too large. */
    OdradekConfigEntry pcfg[] = {{"bootstrap.servers", bootstrap}, {"linger.ms", "1"}};
    ok(odradek_producer_new(pcfg, 2, &p), "producer new");
    latch_t one;
    latch_init(&one);
    OdradekProduceRecord first = {"c-data", 0, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1,
                                  NULL, 0, -1};
    ok(odradek_producer_send(p, &first, on_delivery, &one), "send");
    latch_wait(&one);
    CHECK(one.delivered == 1 && one.first_offset == 0, "first delivery offset %lld",
          (long long)one.first_offset);
    latch_destroy(&one);

    enum { N = 100 };
    OdradekProduceRecord batch[N];
    char keys[N][16], values[N][16];
    OdradekHeader headers[2] = {{"h", 1, (const uint8_t *)"v1", 2}, {"n", 1, NULL, 0}};
    for (int i = 0; i < N; i++) {
        int off = i + 1; /* offset this record gets on partition 0 */
        snprintf(keys[i], sizeof keys[i], "key-%d", off);
        snprintf(values[i], sizeof values[i], "value-%d", off);
        batch[i] = (OdradekProduceRecord){"c-data", 0, (const uint8_t *)keys[i], strlen(keys[i]),
                                          (const uint8_t *)values[i], strlen(values[i]),
                                          headers, 2, -1};
    }
    batch[N - 1].key = NULL;                     /* offset 100: null key */
    batch[N - 1].value = (const uint8_t *)"";    /* and an empty value */
    batch[N - 1].value_len = 0;
    latch_t many;
    latch_init(&many);
    ok(odradek_producer_send_batch(p, batch, N, on_delivery, &many), "send batch");
    latch_wait(&many);
    CHECK(many.delivered == N && many.first_offset == 1, "batch delivered %d first %lld",
          many.delivered, (long long)many.first_offset);
    latch_destroy(&many);

    static char big[4096];
    memset(big, 'x', sizeof big);
    OdradekProduceRecord large = {"c-small", -1, NULL, 0, (const uint8_t *)big, sizeof big, NULL, 0, -1};
    latch_t too_large;
    latch_init(&too_large);
    ok(odradek_producer_send(p, &large, on_delivery, &too_large), "send too large");
    latch_wait(&too_large);
    CHECK(too_large.failed == 1 && strcmp(too_large.error_name, "MESSAGE_TOO_LARGE") == 0,
          "too large: failed %d name %s", too_large.failed, too_large.error_name);
    latch_destroy(&too_large);

    /* Group records, 20 per partition. */
    OdradekProduceRecord group_batch[40];
    for (int i = 0; i < 40; i++)
        group_batch[i] = (OdradekProduceRecord){"c-group", i % 2, NULL, 0, (const uint8_t *)"g", 1,
                                                NULL, 0, -1};
    latch_t g;
    latch_init(&g);
    ok(odradek_producer_send_batch(p, group_batch, 40, on_delivery, &g), "send group batch");
    latch_wait(&g);
    latch_destroy(&g);
    ok(odradek_producer_flush(p, 10000, NULL), "flush");
    ok(odradek_producer_close(p, 10000), "close producer");
    expect_error(odradek_producer_send(p, &first, NULL, NULL), "_INVALID_ARG", "NULL callback");
    latch_t after;
    latch_init(&after);
    ok(odradek_producer_send(p, &first, on_delivery, &after), "send after close");
    latch_wait(&after);
    CHECK(after.failed == 1 && strcmp(after.error_name, "_DESTROY") == 0, "send after close: %s",
          after.error_name);
    latch_destroy(&after);
    odradek_producer_free(p);

    /* Manual assignment: read 101 records of partition 0, seek, position. */
    OdradekConsumer *c = NULL;
    ok(odradek_consumer_new(client_cfg, 1, &c), "consumer new");
    OdradekTopicPartition assign[] = {{"c-data", 0, ODRADEK_OFFSET_BEGINNING}};
    ok(odradek_consumer_assign(c, assign, 1, 10000), "assign");
    OdradekTopicPartition *assigned = NULL;
    size_t nassigned = 0;
    ok(odradek_consumer_assignment(c, &assigned, &nassigned), "assignment");
    CHECK(nassigned == 1 && strcmp(assigned[0].topic, "c-data") == 0, "assignment %zu", nassigned);
    odradek_topic_partitions_free(assigned, nassigned);
    int got = consume_n(c, N + 1, 1);
    CHECK(got == N + 1, "manual consume got %d", got);
    int64_t pos = -5;
    ok(odradek_consumer_position(c, "c-data", 0, &pos), "position");
    CHECK(pos == N + 1, "position %lld", (long long)pos);
    ok(odradek_consumer_seek(c, "c-data", 0, 90), "seek");
    got = consume_n(c, 11, 0);
    CHECK(got == 11, "after seek got %d", got);
    expect_error(odradek_consumer_commit(c, NULL, 0, 1000, NULL), "_INVALID_CONFIG",
                 "commit without group.id");
    int64_t low = -5, high = -5;
    ok(odradek_consumer_watermarks(c, "c-data", 0, &low, &high, 10000, NULL), "watermarks");
    CHECK(low == 0 && high == N + 1, "watermarks %lld %lld", (long long)low, (long long)high);
    /* Paused, a partition hands out nothing new; resumed, it does again. */
    ok(odradek_consumer_seek(c, "c-data", 0, 0), "seek to 0");
    ok(odradek_consumer_pause(c, assign, 1), "pause");
    OdradekMessageList *paused = NULL;
    ok(odradek_consumer_poll(c, 64, 300, NULL, &paused), "poll while paused");
    CHECK(paused->count == 0, "%zu records arrived from a paused partition", paused->count);
    odradek_message_list_free(paused);
    ok(odradek_consumer_resume(c, assign, 1), "resume");
    CHECK(consume_n(c, 1, 0) >= 1, "nothing arrived after resume");
    ok(odradek_consumer_seek(c, "c-data", 0, N + 1), "seek to the end");

    /* Async poll: times out with an empty list. */
    latch_t ap;
    latch_init(&ap);
    ok(odradek_consumer_poll_async(c, 10, 50, on_poll, &ap), "poll async");
    latch_wait(&ap);
    CHECK(ap.messages == 0 && ap.error_name[0] == 0, "async poll empty: %d %s", ap.messages, ap.error_name);
    latch_destroy(&ap);

    /* Cancel: a poll without timeout returns _INTR when its token is triggered. */
    cancel_arg_t ca = {c, odradek_cancel_new(), NULL};
    pthread_t th;
    pthread_create(&th, NULL, poll_forever, &ca);
    usleep(200 * 1000);
    odradek_cancel_trigger(ca.cancel);
    pthread_join(th, NULL);
    CHECK(ca.result && ca.result->code == ODRADEK_ERR_INTR, "cancelled poll");
    expect_error(ca.result, "_INTR", "cancelled poll");
    odradek_cancel_free(ca.cancel);
    ok(odradek_consumer_unassign(c), "unassign");
    ok(odradek_consumer_close(c, 10000), "close consumer");
    expect_error(odradek_consumer_seek(c, "c-data", 0, 0), "_DESTROY", "seek after close");
    odradek_consumer_free(c);

    /* A group member with a rebalance callback; commit and committed. */
    OdradekConfigEntry gcfg[] = {{"bootstrap.servers", bootstrap},
                                 {"group.id", "c-test-group"},
                                 {"auto.offset.reset", "earliest"},
                                 {"enable.auto.commit", "false"}};
    OdradekConsumer *gc = NULL;
    ok(odradek_consumer_new(gcfg, 4, &gc), "group consumer new");
    rebalance_t rb = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
    ok(odradek_consumer_set_rebalance_callback(gc, on_rebalance, &rb), "rebalance callback");
    const char *subs[] = {"c-group"};
    ok(odradek_consumer_subscribe(gc, subs, 1), "subscribe");
    got = consume_n(gc, 40, 0);
    CHECK(got == 40, "group consume got %d", got);
    ok(odradek_consumer_commit(gc, NULL, 0, 10000, NULL), "commit positions");
    OdradekTopicPartition committed[] = {{"c-group", 0, 0}, {"c-group", 1, 0}, {"c-data", 1, 0}};
    ok(odradek_consumer_committed(gc, committed, 3, 10000, NULL), "committed");
    CHECK(committed[0].offset == 20 && committed[1].offset == 20, "committed %lld %lld",
          (long long)committed[0].offset, (long long)committed[1].offset);
    CHECK(committed[2].offset == ODRADEK_OFFSET_INVALID, "nothing committed: %lld",
          (long long)committed[2].offset);
    OdradekTopicPartition explicit_commit[] = {{"c-group", 0, 5}};
    ok(odradek_consumer_commit(gc, explicit_commit, 1, 10000, NULL), "commit explicit");
    ok(odradek_consumer_committed(gc, committed, 1, 10000, NULL), "committed again");
    CHECK(committed[0].offset == 5, "committed explicit %lld", (long long)committed[0].offset);
    test_transactions(bootstrap, gc);
    ok(odradek_consumer_close(gc, 10000), "group close");
    pthread_mutex_lock(&rb.mu);
    CHECK(rb.assigned == 2, "rebalance assigned %d", rb.assigned);
    pthread_mutex_unlock(&rb.mu);
    odradek_consumer_free(gc);
    test_admin_groups_configs(bootstrap, admin);

    odradek_admin_free(admin);
    odradek_test_broker_stop(broker);

    test_security();
    test_acls_and_users();
    test_cluster();

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_odradek: all checks passed\n");
    return 0;
}
