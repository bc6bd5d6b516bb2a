/* Helpers shared by the C tests that need no broker: a loopback port nobody listens on, a
 * sleep in milliseconds, and a delivery callback that ignores its reports. */
#ifndef ODRADEK_TEST_SUPPORT_H
#define ODRADEK_TEST_SUPPORT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "odradek.h"

static void ignore_delivery(void *context, const OdradekDeliveryReport *reports, size_t count) {
    (void)context;
    (void)reports;
    (void)count;
}

/* A port that was free a moment ago on 127.0.0.1: connecting to it is refused. */
static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("socket");
        exit(2);
    }
    close(fd);
    return ntohs(a.sin_port);
}

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

#endif
