/* Checks shared by the C test programs: CHECK counts a failure and goes on; ok() and
 * expect_error() check (and free) a returned OdradekError. */
#ifndef ODRADEK_TEST_CHECK_H
#define ODRADEK_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include "odradek.h"

static int failures = 0;

#define CHECK(cond, ...)                                                         \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);      \
            fprintf(stderr, __VA_ARGS__);                                        \
            fprintf(stderr, "\n");                                               \
            failures++;                                                          \
        }                                                                        \
    } while (0)

/* Fails the test when err is not NULL, printing it; frees it. */
static void ok(OdradekError *err, const char *what) {
    if (err) {
        fprintf(stderr, "FAIL %s: %s (%s, code %d)\n", what, err->message, err->name, err->code);
        failures++;
        odradek_error_free(err);
    }
}

/* Expects an error named `name`; frees it. */
static void expect_error(OdradekError *err, const char *name, const char *what) {
    if (!err) {
        fprintf(stderr, "FAIL %s: expected %s, got success\n", what, name);
        failures++;
        return;
    }
    CHECK(strcmp(err->name, name) == 0, "%s: expected %s, got %s (%s)", what, name, err->name,
          err->message);
    odradek_error_free(err);
}

#endif
