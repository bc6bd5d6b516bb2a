/* The C error callback and statistics (odradek_*_set_error_callback, odradek_*_metrics_json):
 * a producer pointed at a closed port reports _TRANSPORT naming the address, then
 * _ALL_BROKERS_DOWN, through the callback (no call of the application fails meanwhile); its
 * statistics show the failed connects; after free the callback never runs again. Built and run
 * by scripts/test.d/55-cabi-go.sh. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "odradek.h"
#include "test_support.h"

typedef struct {
    pthread_mutex_t lock;
    char address[64];
    int transport_naming_it;
    int all_down;
    int after_free;
    int freed;
} seen_t;

static void on_error(void *context, const OdradekError *error) {
    seen_t *seen = context;
    pthread_mutex_lock(&seen->lock);
    if (seen->freed) seen->after_free++;
    if (strcmp(error->name, "_TRANSPORT") == 0 && strstr(error->message, seen->address) &&
        error->error_class == ODRADEK_CLASS_RETRIABLE)
        seen->transport_naming_it++;
    if (strcmp(error->name, "_ALL_BROKERS_DOWN") == 0) seen->all_down++;
    pthread_mutex_unlock(&seen->lock);
}

int main(void) {
    seen_t seen = {.lock = PTHREAD_MUTEX_INITIALIZER};
    snprintf(seen.address, sizeof seen.address, "127.0.0.1:%d", closed_port());
    OdradekConfigEntry config[] = {{"bootstrap.servers", seen.address}, {"message.timeout.ms", "3000"}};
    OdradekProducer *p = NULL;
    OdradekError *err = odradek_producer_new(config, 2, &p);
    if (err) { fprintf(stderr, "FAIL: producer: %s\n", err->message); return 1; }
    err = odradek_producer_set_error_callback(p, on_error, &seen);
    if (err) { fprintf(stderr, "FAIL: set_error_callback: %s\n", err->message); return 1; }

    OdradekProduceRecord r = {.topic = "events", .partition = -1, .timestamp = -1};
    odradek_error_free(odradek_producer_send(p, &r, ignore_delivery, NULL));
    int done = 0;
    for (int i = 0; i < 150 && !done; i++) { /* up to 15 s */
        sleep_ms(100);
        pthread_mutex_lock(&seen.lock);
        done = seen.transport_naming_it && seen.all_down;
        pthread_mutex_unlock(&seen.lock);
    }

    char *json = NULL;
    int failures = 0;
    err = odradek_producer_metrics_json(p, &json);
    if (err || !json) { fprintf(stderr, "FAIL: metrics_json: %s\n", err ? err->message : "NULL"); return 1; }
    if (!strstr(json, seen.address) || !strstr(json, "\"connect_failures\":") ||
        strstr(json, "\"connect_failures\":0")) {
        fprintf(stderr, "FAIL: the statistics do not show failed connects to %s: %s\n", seen.address, json);
        failures++;
    }
    odradek_string_free(json);

    OdradekConfigEntry cconfig[] = {{"bootstrap.servers", seen.address}};
    OdradekConsumer *c = NULL;
    err = odradek_consumer_new(cconfig, 1, &c);
    if (err) { fprintf(stderr, "FAIL: consumer: %s\n", err->message); return 1; }
    odradek_error_free(odradek_consumer_set_error_callback(c, on_error, &seen));
    err = odradek_consumer_metrics_json(c, &json);
    if (err || !strstr(json, "\"records_consumed\":0") || !strstr(json, "\"partitions\":[]")) {
        fprintf(stderr, "FAIL: consumer metrics: %s\n", err ? err->message : json);
        failures++;
    }
    odradek_string_free(json);
    odradek_consumer_free(c);

    odradek_error_free(odradek_producer_close(p, 1000));
    odradek_producer_free(p);
    pthread_mutex_lock(&seen.lock);
    seen.freed = 1;
    pthread_mutex_unlock(&seen.lock);
    sleep_ms(500);

    pthread_mutex_lock(&seen.lock);
    if (!seen.transport_naming_it) { fprintf(stderr, "FAIL: no retriable _TRANSPORT naming %s\n", seen.address); failures++; }
    if (!seen.all_down) { fprintf(stderr, "FAIL: no _ALL_BROKERS_DOWN\n"); failures++; }
    if (seen.after_free) { fprintf(stderr, "FAIL: %d callbacks after free\n", seen.after_free); failures++; }
    pthread_mutex_unlock(&seen.lock);
    if (failures == 0) printf("test_events: ok\n");
    return failures ? 1 : 0;
}
