/* Throughput of the event decoder on realistic click events (about 165
 * bytes), against jansson's json_loadb on the same bytes. One core, no I/O:
 *
 *     decode_bench [events [phase]]   (default 500000, all phases)
 *
 * phase is one of scan, decode, write, jansson (to profile one alone).
 *
 * Prints events/s and ns/event for json_scan_record alone, for the whole
 * event_decode (scan + validation + role hashes), for json_write_record of a
 * modified record, and for json_loadb + json_decref. Times are this
 * thread's CPU time, so other processes on a shared machine count less. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "event_decoder.h"
#include "json_scan.h"
#include "record.h"

#define DISTINCT 4096

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); /* CPU time: the machine is shared */
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void report(const char *what, long n, double secs, size_t bytes)
{
    printf("%-34s %10.0f events/s  %7.1f ns/event  %7.1f MB/s\n", what, (double)n / secs,
           secs * 1e9 / (double)n, (double)bytes / secs / 1e6);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 500000;
    const char *only = argc > 2 ? argv[2] : NULL;
    static char *ev[DISTINCT];
    static size_t evlen[DISTINCT];
    size_t total = 0;
    srand(42);
    for (int i = 0; i < DISTINCT; i++) {
        char buf[512];
        int len =
            snprintf(buf, sizeof buf,
                     "{\"event_id\":\"e-%d\",\"user_id\":\"u-%d\",\"url\":\"https://shop.example/p/%d\","
                     "\"ts\":%lld,\"referrer\":\"https://google.com/\",\"ua\":\"Mozilla/5.0 (X11)\","
                     "\"session_hint\":null}",
                     100000 + i, 1000 + rand() % 9000, rand() % 500, 1795737600000LL + rand() % 3600000);
        ev[i] = strdup(buf);
        evlen[i] = (size_t)len;
        total += (size_t)len;
    }
    printf("%d distinct events, %.1f bytes on average, %ld decodes per run\n", DISTINCT,
           (double)total / DISTINCT, n);
    size_t bytes = (size_t)((double)total / DISTINCT * (double)n);

#define PHASE(name) (only == NULL || strcmp(only, name) == 0)
    const int run_scan = PHASE("scan"), run_decode = PHASE("decode"), run_write = PHASE("write"),
              run_jansson = PHASE("jansson");
    arena a;
    arena_init(&a, 1 << 20);
    event_config cfg;
    event_config_defaults(&cfg);
    cfg.max_future_ms = -1;
    char err[160];
    long valid = 0;

    double t0 = now_s();
    for (long i = 0; i < n && run_scan; i++) {
        int k = (int)(i & (DISTINCT - 1));
        sluice_record *r = record_new(&a);
        valid += json_scan_record(ev[k], evlen[k], r, err, sizeof err) == JSON_SCAN_OK;
        if ((i & 1023) == 1023)
            arena_reset(&a);
    }
    if (run_scan)
        report("json_scan_record", n, now_s() - t0, bytes);
    arena_reset(&a);

    event_verdict v;
    t0 = now_s();
    for (long i = 0; i < n && run_decode; i++) {
        int k = (int)(i & (DISTINCT - 1));
        sluice_record *r = record_new(&a);
        r->raw = ev[k];
        r->raw_len = (uint32_t)evlen[k];
        valid += event_decode(&cfg, r, 0, &v);
        if ((i & 1023) == 1023)
            arena_reset(&a);
    }
    if (run_decode)
        report("event_decode (scan + validate)", n, now_s() - t0, bytes);
    arena_reset(&a);

    t0 = now_s();
    size_t out = 0;
    for (long i = 0; i < n && run_write; i++) {
        int k = (int)(i & (DISTINCT - 1));
        sluice_record *r = record_new(&a);
        json_scan_record(ev[k], evlen[k], r, err, sizeof err);
        r->modified = 1;
        out += json_write_record(r, &a).len;
        if ((i & 1023) == 1023)
            arena_reset(&a);
    }
    if (run_write)
        report("scan + json_write_record (fields)", n, now_s() - t0, bytes);

    t0 = now_s();
    for (long i = 0; i < n && run_jansson; i++) {
        int k = (int)(i & (DISTINCT - 1));
        json_t *j = json_loadb(ev[k], evlen[k], 0, NULL);
        valid += j != NULL;
        json_decref(j);
    }
    if (run_jansson)
        report("jansson json_loadb + json_decref", n, now_s() - t0, bytes);

    if (only == NULL && (valid != 3 * n || out == 0)) {
        fprintf(stderr, "unexpected: %ld valid of %ld\n", valid, 3 * n);
        return 1;
    }
    arena_free(&a);
    for (int i = 0; i < DISTINCT; i++)
        free(ev[i]);
    return 0;
}
