/* The C log bridge (odradek_set_log_callback): a producer pointed at a closed port makes the
 * library log "cannot connect to broker" at WARN, naming the address; after the callback is
 * cleared nothing more arrives. Built and run (also under valgrind) by scripts/test.d/55-cabi-go.sh. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "odradek.h"
#include "test_support.h"

typedef struct {
    pthread_mutex_t lock;
    char address[64];
    int warnings_naming_it;
    int records;
    int bad_level;
} seen_t;

static void on_log(void *context, int32_t level, const char *target, const char *message) {
    seen_t *seen = context;
    pthread_mutex_lock(&seen->lock);
    seen->records++;
    if (level < ODRADEK_LOG_ERROR || level > ODRADEK_LOG_WARN || strncmp(target, "odradek", 7) != 0)
        seen->bad_level++;
    if (level == ODRADEK_LOG_WARN && strstr(message, "cannot connect") && strstr(message, seen->address))
        seen->warnings_naming_it++;
    pthread_mutex_unlock(&seen->lock);
}

int main(void) {
    seen_t seen = {.lock = PTHREAD_MUTEX_INITIALIZER};
    snprintf(seen.address, sizeof seen.address, "127.0.0.1:%d", closed_port());

    OdradekError *err = odradek_set_log_callback(9, on_log, &seen);
    if (!err || strcmp(err->name, "_INVALID_ARG") != 0) {
        fprintf(stderr, "FAIL: level 9 was not refused\n");
        return 1;
    }
    odradek_error_free(err);
    err = odradek_set_log_callback(ODRADEK_LOG_WARN, on_log, &seen);
    if (err) {
        fprintf(stderr, "FAIL: odradek_set_log_callback: %s\n", err->message);
        return 1;
    }

    OdradekConfigEntry config[] = {{"bootstrap.servers", seen.address}, {"message.timeout.ms", "1000"}};
    OdradekProducer *p = NULL;
    err = odradek_producer_new(config, 2, &p);
    if (err) {
        fprintf(stderr, "FAIL: producer: %s\n", err->message);
        return 1;
    }
    OdradekProduceRecord r = {.topic = "logged", .partition = -1, .timestamp = -1};
    err = odradek_producer_send(p, &r, ignore_delivery, NULL);
    if (err) {
        fprintf(stderr, "FAIL: send: %s\n", err->message);
        return 1;
    }
    int found = 0;
    for (int i = 0; i < 150 && !found; i++) { /* up to 15 s (valgrind is slow) */
        sleep_ms(100);
        pthread_mutex_lock(&seen.lock);
        found = seen.warnings_naming_it;
        pthread_mutex_unlock(&seen.lock);
    }
    odradek_error_free(odradek_producer_close(p, 5000));
    odradek_producer_free(p);

    odradek_error_free(odradek_set_log_callback(ODRADEK_LOG_WARN, NULL, NULL));
    pthread_mutex_lock(&seen.lock);
    int before = seen.records, bad = seen.bad_level;
    pthread_mutex_unlock(&seen.lock);
    /* A client after the clear: its warnings must not reach the callback. */
    OdradekProducer *q = NULL;
    odradek_error_free(odradek_producer_new(config, 2, &q));
    odradek_error_free(odradek_producer_send(q, &r, ignore_delivery, NULL));
    sleep_ms(1000);
    odradek_error_free(odradek_producer_close(q, 3000));
    odradek_producer_free(q);
    pthread_mutex_lock(&seen.lock);
    int after = seen.records;
    pthread_mutex_unlock(&seen.lock);

    int failures = 0;
    if (!found) { fprintf(stderr, "FAIL: no WARN 'cannot connect' record naming %s\n", seen.address); failures++; }
    if (bad) { fprintf(stderr, "FAIL: %d records below WARN or from another module\n", bad); failures++; }
    if (after != before) { fprintf(stderr, "FAIL: %d records after the callback was cleared\n", after - before); failures++; }
    if (failures == 0) printf("test_logging: ok (%d records)\n", before);
    return failures ? 1 : 0;
}
