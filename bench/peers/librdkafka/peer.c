/* Benchmark peer on Debian's librdkafka (C API): produce, consume and fixed-rate latency.
 *
 * Same command line and JSON output as the other peers (see bench/README.md):
 *   peer produce --bootstrap B --topic T --count N --size S --acks 1|all --compression C
 *                --linger-ms L --batch-size BYTES
 *   peer consume --bootstrap B --topic T --count N [--isolation read_committed|read_uncommitted]
 *   peer txn-produce (produce's options) --txn-records K --transactional-id ID [--abort-every M]
 *   peer latency|steady --bootstrap B --topic T --rate R --seconds D --size S --acks A
 *                --compression C --linger-ms L --batch-size BYTES
 * Prints one JSON object on stdout. CPU and RSS are measured by the runner from outside.
 */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct opts {
    const char *mode, *bootstrap, *topic, *acks, *compression, *isolation, *transactional_id;
    long count, size, linger_ms, batch_size, rate, txn_records, abort_every;
    double seconds;
};

static void die(const char *what, const char *detail) {
    fprintf(stderr, "librdkafka peer: %s: %s\n", what, detail ? detail : "");
    exit(1);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v) {
    char err[512];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) die(k, err);
}

/* BENCH_CLIENT_CONFIG="k=v k2=v2": extra properties for every client (the TLS benchmark's
 * security settings), applied last. */
static void set_extra(rd_kafka_conf_t *conf) {
    const char *extra = getenv("BENCH_CLIENT_CONFIG");
    if (!extra) return;
    char *copy = strdup(extra), *save = NULL;
    for (char *kv = strtok_r(copy, " \n", &save); kv; kv = strtok_r(NULL, " \n", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) die("BENCH_CLIENT_CONFIG", kv);
        *eq = '\0';
        set(conf, kv, eq + 1);
    }
    free(copy);
}

static void setl(rd_kafka_conf_t *conf, const char *k, long v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", v);
    set(conf, k, buf);
}

/* Random upper-case letters, like kafka-tools ProducerPerformance's payloads (compress ~0.6). */
static char *make_payload_pool(long len) {
    char *p = malloc(len);
    if (!p) die("malloc", "payload pool");
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (long i = 0; i < len; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        p[i] = (char)('A' + x % 26);
    }
    return p;
}
#define POOL 1048576L

static long delivered, failed;
/* Latency mode: produce latency = delivery report time - intended send time (value's first 8
 * bytes). Delivery reports run on the thread that calls rd_kafka_poll (main). */
static int64_t *ack_lat;
static long ack_n, ack_cap;
static int64_t now_ns(void);
/* Steady mode: the longest time between two consecutive acknowledgements, and when it began. */
static int64_t last_ack, max_gap, gap_from;
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk; (void)opaque;
    if (m->err) {
        if (failed++ == 0) fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(m->err));
    } else {
        delivered++;
        if (last_ack) {
            int64_t now = now_ns();
            if (now - last_ack > max_gap) { max_gap = now - last_ack; gap_from = last_ack; }
            last_ack = now;
        }
        if (ack_lat && m->len >= 8 && ack_n < ack_cap) {
            int64_t intended;
            memcpy(&intended, m->payload, 8);
            if (intended != 0) ack_lat[ack_n++] = now_ns() - intended;
        }
    }
}

static rd_kafka_t *new_producer(const struct opts *o) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512];
    set(conf, "bootstrap.servers", o->bootstrap);
    set(conf, "acks", strcmp(o->acks, "all") == 0 ? "-1" : o->acks);
    set(conf, "compression.codec", o->compression);
    setl(conf, "linger.ms", o->linger_ms);
    setl(conf, "batch.size", o->batch_size);
    set(conf, "batch.num.messages", "1000000");
    set(conf, "enable.idempotence", "false");
    if (!strcmp(o->mode, "txn-produce")) {
        set(conf, "enable.idempotence", "true");
        set(conf, "transactional.id", o->transactional_id);
    }
    set(conf, "max.in.flight.requests.per.connection", "5");
    set(conf, "queue.buffering.max.messages", "1000000");
    set(conf, "queue.buffering.max.kbytes", "1048576");
    /* For investigations only: librdkafka's debug contexts, e.g. BENCH_RDKAFKA_DEBUG=protocol. */
    if (getenv("BENCH_RDKAFKA_DEBUG")) set(conf, "debug", getenv("BENCH_RDKAFKA_DEBUG"));
    set_extra(conf);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) die("rd_kafka_new(producer)", err);
    return rk;
}

static rd_kafka_t *new_consumer(const struct opts *o) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512];
    set(conf, "bootstrap.servers", o->bootstrap);
    set(conf, "group.id", "odradek-bench");
    set(conf, "enable.auto.commit", "false");
    set(conf, "fetch.min.bytes", "1");
    set(conf, "max.partition.fetch.bytes", "1048576");
    set(conf, "fetch.max.bytes", "52428800");
    if (o->isolation) set(conf, "isolation.level", o->isolation);
    set_extra(conf);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) die("rd_kafka_new(consumer)", err);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    /* Offset 0 (the topics are fresh): no ListOffsets round trip before the first fetch. */
    rd_kafka_topic_partition_list_add(parts, o->topic, 0)->offset = 0;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
    if (e) die("assign", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(parts);
    return rk;
}

static void produce_one(rd_kafka_t *rk, const char *topic, const char *value, long size) {
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                                  RD_KAFKA_V_VALUE((void *)value, (size_t)size),
                                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                                  RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) die("produce", rd_kafka_err2str(e));
        rd_kafka_poll(rk, 1);
    }
}

static int run_produce(const struct opts *o) {
    char *pool = make_payload_pool(POOL);
    rd_kafka_t *rk = new_producer(o);
    int64_t t0 = now_ns();
    for (long i = 0; i < o->count; i++) {
        produce_one(rk, o->topic, pool + (i * 4099) % (POOL - o->size), o->size);
        if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
    }
    while (delivered + failed < o->count) rd_kafka_poll(rk, 10);
    int64_t t1 = now_ns();
    rd_kafka_destroy(rk);
    if (failed) die("produce", "some deliveries failed");
    printf("{\"records\":%ld,\"bytes\":%ld,\"seconds\":%.6f,\"client\":\"librdkafka %s\"}\n",
           delivered, delivered * o->size, (t1 - t0) / 1e9, rd_kafka_version_str());
    free(pool);
    return 0;
}

static void check(const char *what, rd_kafka_error_t *e) {
    if (!e) return;
    fprintf(stderr, "librdkafka peer: %s: %s\n", what, rd_kafka_error_string(e));
    exit(1);
}

/* Transactions of --txn-records records, each committed (every --abort-every-th aborted). The
 * clock runs from the first begin_transaction (after init_transactions) to the last commit's
 * answer; "records" counts the committed ones. */
static int run_txn_produce(const struct opts *o) {
    char *pool = make_payload_pool(POOL);
    rd_kafka_t *rk = new_producer(o);
    check("init_transactions", rd_kafka_init_transactions(rk, 60000));
    long sent = 0, committed = 0, aborted = 0, txns = 0;
    int64_t t0 = now_ns();
    while (sent < o->count) {
        long n = o->count - sent < o->txn_records ? o->count - sent : o->txn_records;
        txns++;
        check("begin_transaction", rd_kafka_begin_transaction(rk));
        for (long i = sent; i < sent + n; i++) {
            produce_one(rk, o->topic, pool + (i * 4099) % (POOL - o->size), o->size);
            if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
        }
        sent += n;
        if (o->abort_every > 0 && txns % o->abort_every == 0) {
            /* Deliver first: abort would purge what is still queued, and the aborted records
             * are to be in the log (read_committed readers must skip them). */
            if (rd_kafka_flush(rk, 60000)) die("flush before abort", "timed out");
            check("abort_transaction", rd_kafka_abort_transaction(rk, 60000));
            aborted += n;
        } else {
            check("commit_transaction", rd_kafka_commit_transaction(rk, 60000));
            committed += n;
        }
    }
    int64_t t1 = now_ns();
    rd_kafka_destroy(rk);
    if (failed) die("txn-produce", "some deliveries failed");
    printf("{\"records\":%ld,\"aborted\":%ld,\"transactions\":%ld,\"bytes\":%ld,"
           "\"seconds\":%.6f,\"client\":\"librdkafka %s\"}\n",
           committed, aborted, txns, committed * o->size, (t1 - t0) / 1e9, rd_kafka_version_str());
    free(pool);
    return 0;
}

static int run_consume(const struct opts *o) {
    rd_kafka_t *rk = new_consumer(o);
    long n = 0, bytes = 0;
    /* Steady-state rate: the clock starts at the first record (not at assign/connect). */
    int64_t t0 = 0, deadline = now_ns() + 300LL * 1000000000LL;
    while (n < o->count) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (now_ns() > deadline) die("consume", "timed out after 300 s");
        if (!m) continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) die("consume", rd_kafka_message_errstr(m));
        } else {
            if (n++ == 0) t0 = now_ns();
            bytes += (long)m->len;
        }
        rd_kafka_message_destroy(m);
    }
    int64_t t1 = now_ns();
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    printf("{\"records\":%ld,\"bytes\":%ld,\"seconds\":%.6f,\"client\":\"librdkafka %s\"}\n", n,
           bytes, (t1 - t0) / 1e9, rd_kafka_version_str());
    return 0;
}

/* Latency: one consumer thread records now - intended send time (carried in the value). */
struct lat_state {
    rd_kafka_t *consumer;
    int64_t *lat;
    long expected, got, warm_seen;
    volatile int stop;
};

static void *consume_latencies(void *arg) {
    struct lat_state *s = arg;
    while (!s->stop && s->got < s->expected) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s->consumer, 50);
        if (!m) continue;
        int64_t now = now_ns();
        if (!m->err && m->len >= 8) {
            int64_t intended;
            memcpy(&intended, m->payload, 8);
            if (intended == 0) __atomic_store_n(&s->warm_seen, 1, __ATOMIC_RELEASE);
            else s->lat[s->got++] = now - intended;
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sends `total` records at start + i * interval, each stamped with its intended time (its first
 * 8 bytes), polling delivery reports while it waits. */
static void paced_produce(rd_kafka_t *prod, const struct opts *o, char *value, long total,
                          int64_t start, int64_t interval) {
    for (long i = 0; i < total; i++) {
        int64_t intended = start + i * interval;
        while (now_ns() < intended) {
            rd_kafka_poll(prod, 0);
            int64_t left = intended - now_ns();
            if (left > 200000) {
                struct timespec ts = {0, left - 100000};
                nanosleep(&ts, NULL);
            }
        }
        memcpy(value, &intended, 8);
        produce_one(prod, o->topic, value, o->size);
    }
}

static int run_latency(const struct opts *o) {
    if (o->size < 8) die("latency", "--size must be at least 8");
    long total = (long)(o->rate * o->seconds);
    char *value = make_payload_pool(o->size);
    rd_kafka_t *prod = new_producer(o);
    struct lat_state s = {.consumer = new_consumer(o), .expected = total};
    s.lat = calloc(total > 0 ? total : 1, sizeof(int64_t));
    ack_cap = total;
    ack_lat = calloc(total > 0 ? total : 1, sizeof(int64_t));
    pthread_t th;
    pthread_create(&th, NULL, consume_latencies, &s);
    /* Warm-up: records with intended time 0 until the consumer sees one (topic created, fetching). */
    int64_t zero = 0, warm_deadline = now_ns() + 60LL * 1000000000LL;
    memcpy(value, &zero, 8);
    while (!__atomic_load_n(&s.warm_seen, __ATOMIC_ACQUIRE)) {
        if (now_ns() > warm_deadline) die("latency", "consumer saw no warm-up record in 60 s");
        produce_one(prod, o->topic, value, o->size);
        rd_kafka_poll(prod, 100);
    }
    int64_t start = now_ns() + 10000000LL, interval = 1000000000LL / o->rate;
    paced_produce(prod, o, value, total, start, interval);
    rd_kafka_flush(prod, 60000);
    int64_t *acks = ack_lat;
    ack_lat = NULL;
    int64_t end_deadline = now_ns() + 30LL * 1000000000LL;
    while (s.got < total && now_ns() < end_deadline) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    s.stop = 1;
    pthread_join(th, NULL);
    if (s.got < total) die("latency", "not every record arrived within 30 s");
    if (ack_n < total) die("latency", "not every record was acknowledged");
    qsort(s.lat, s.got, sizeof(int64_t), cmp64);
    qsort(acks, ack_n, sizeof(int64_t), cmp64);
#define PCT(a, n, p) ((a)[(long)((p) * ((n) - 1))] / 1000.0)
    printf("{\"records\":%ld,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
           "\"ack_p50_us\":%.1f,\"ack_p99_us\":%.1f,\"ack_p999_us\":%.1f,"
           "\"client\":\"librdkafka %s\"}\n",
           s.got, PCT(s.lat, s.got, 0.5), PCT(s.lat, s.got, 0.99), PCT(s.lat, s.got, 0.999),
           s.lat[s.got - 1] / 1000.0, PCT(acks, ack_n, 0.5), PCT(acks, ack_n, 0.99),
           PCT(acks, ack_n, 0.999), rd_kafka_version_str());
    rd_kafka_consumer_close(s.consumer);
    rd_kafka_destroy(s.consumer);
    rd_kafka_destroy(prod);
    return 0;
}

/* `steady` (the replication section's failover stall): fixed-rate produce only, no consumer;
 * prints the longest time between consecutive acknowledgements (from the first intended send)
 * and the acknowledgement latencies. A failed record is counted, not fatal. */
static int run_steady(const struct opts *o) {
    if (o->size < 8) die("steady", "--size must be at least 8");
    long total = (long)(o->rate * o->seconds);
    char *value = make_payload_pool(o->size);
    rd_kafka_t *prod = new_producer(o);
    ack_cap = total;
    ack_lat = calloc(total > 0 ? total : 1, sizeof(int64_t));
    int64_t start = now_ns() + 10000000LL, interval = 1000000000LL / o->rate;
    last_ack = start;
    paced_produce(prod, o, value, total, start, interval);
    rd_kafka_flush(prod, 120000);
    if (ack_n == 0) die("steady", "no record acknowledged");
    qsort(ack_lat, ack_n, sizeof(int64_t), cmp64);
    printf("{\"records\":%ld,\"failed\":%ld,\"max_gap_us\":%.1f,\"gap_from_s\":%.3f,"
           "\"ack_p50_us\":%.1f,\"ack_p99_us\":%.1f,\"ack_max_us\":%.1f,"
           "\"client\":\"librdkafka %s\"}\n",
           ack_n, failed, max_gap / 1000.0, (gap_from - start) / 1e9, PCT(ack_lat, ack_n, 0.5),
           PCT(ack_lat, ack_n, 0.99), ack_lat[ack_n - 1] / 1000.0, rd_kafka_version_str());
    rd_kafka_destroy(prod);
    return 0;
}

int main(int argc, char **argv) {
    struct opts o = {.acks = "1", .compression = "none", .count = 100000, .size = 100,
                     .linger_ms = 5, .batch_size = 65536, .rate = 1000, .seconds = 5,
                     .txn_records = 100, .transactional_id = "odradek-bench-txn"};
    if (argc < 2) die("usage", "peer produce|consume|latency --bootstrap B --topic T ...");
    o.mode = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--bootstrap")) o.bootstrap = v;
        else if (!strcmp(k, "--topic")) o.topic = v;
        else if (!strcmp(k, "--acks")) o.acks = v;
        else if (!strcmp(k, "--compression")) o.compression = v;
        else if (!strcmp(k, "--count")) o.count = atol(v);
        else if (!strcmp(k, "--size")) o.size = atol(v);
        else if (!strcmp(k, "--linger-ms")) o.linger_ms = atol(v);
        else if (!strcmp(k, "--batch-size")) o.batch_size = atol(v);
        else if (!strcmp(k, "--rate")) o.rate = atol(v);
        else if (!strcmp(k, "--seconds")) o.seconds = atof(v);
        else if (!strcmp(k, "--isolation")) o.isolation = v;
        else if (!strcmp(k, "--txn-records")) o.txn_records = atol(v) > 0 ? atol(v) : 1;
        else if (!strcmp(k, "--abort-every")) o.abort_every = atol(v);
        else if (!strcmp(k, "--transactional-id")) o.transactional_id = v;
        else die("unknown option", k);
    }
    if (!o.bootstrap || !o.topic) die("usage", "--bootstrap and --topic are required");
    if (!strcmp(o.mode, "produce")) return run_produce(&o);
    if (!strcmp(o.mode, "consume")) return run_consume(&o);
    if (!strcmp(o.mode, "txn-produce")) return run_txn_produce(&o);
    if (!strcmp(o.mode, "latency")) return run_latency(&o);
    if (!strcmp(o.mode, "steady")) return run_steady(&o);
    die("unknown mode", o.mode);
    return 2;
}
