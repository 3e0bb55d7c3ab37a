/* libFuzzer target: restore() of every shipped plugin that keeps state, and
 * the engine's state file decoder, with arbitrary bytes.
 *
 * Input: byte 0 picks the target (a plugin of `plugins[]`, or the state file
 * decoder; from 0xF0 on, a part of url_count run in parts, `parts[]`, so
 * the inputs written before those existed keep their meaning: 0xF0-0xF2
 * the in-process layout's parts, 0xF3 and 0xF4 the partition layout's
 * partial and total); byte 1 the
 * encoding version (below 224: the plugin's current
 * one, else byte 1 - 224, so older and unknown versions are tried too); the
 * rest is the snapshot.
 *
 * A plugin is loaded from the build's plugin folder by the engine's loader
 * and run by the test driver (sluice/testing.h): an instance is created with
 * options validated as a pipeline's are, restore() gets the bytes, and then
 *  - a refusal (SLUICE_ERR_STATE) is fine; any other status is a bug;
 *  - an accepted snapshot is snapshotted again and restored into a fresh
 *    instance (sluice_harness_restart), which must accept its own snapshot;
 *  - the restored state is then used: two events pushed and the input ended
 *    (every window and session emitted) for an operator, two polls for a
 *    source; then flush and destroy.
 * The Kafka source's instance (a librdkafka consumer, pointed at a closed
 * port) is made once and restored into again and again; the others are
 * made afresh for every input.
 *
 * The state file decoder gets the bytes with a valid checksum appended (when
 * byte 1 is even), so the fuzzer gets past it; an image it accepts must
 * encode back to the same bytes.
 *
 * SLUICE_FUZZ_SEEDS=DIR writes seed inputs (each plugin's snapshot after a
 * few events, and a state file) into DIR and exits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "log.h"
#include "record.h"
#include "state_store.h"

typedef struct target {
    const char *file;    /* under SLUICE_PLUGIN_DIR */
    const char *options; /* YAML map */
    const char *part;    /* run as this part of the plugin (sluice_harness_part), or NULL */
    int persistent;      /* one instance for the whole run */
    uint32_t version;    /* the current encoding version (from a snapshot) */
    sluice_harness *kept;
} target;

static char file_source_path[] = "/tmp/sluice-restore-fuzz-XXXXXX";
static char file_source_options[128];

static target targets[] = {
    {"operator-dedup.so", "{ttl: 1h, emit_rejected: true}", NULL, 0, 0, NULL},
    {"operator-url_count.so", "{size: 10s, allowed_lateness: 5s, top: 3}", NULL, 0, 0, NULL},
    {"operator-sessionize.so", "{gap: 30s, allowed_lateness: 5s}", NULL, 0, 0, NULL},
    {"source-clickgen.so", "{seed: 7, users: 50, urls: 20, duplicates: 0.1, late: 0.1, invalid: 0.1}", NULL,
     0, 0, NULL},
    {"source-file.so", file_source_options, NULL, 0, 0, NULL},
    {"source-kafka.so", "{brokers: '127.0.0.1:1', topics: [click-data, other], group: fuzz}", NULL, 1, 0,
     NULL},
};
#define NTARGETS (sizeof targets / sizeof targets[0])
#define STATE_FILE_TARGET NTARGETS

#define PARTS_FIRST 0xF0
static target parts[] = {
    {"operator-url_count.so", "{size: 10s, allowed_lateness: 5s, top: 3}", "by_url", 0, 0, NULL},
    {"operator-url_count.so", "{size: 10s, allowed_lateness: 5s, top: 3}", "by_user", 0, 0, NULL},
    {"operator-url_count.so", "{size: 10s, allowed_lateness: 5s, top: 3}", "summary", 0, 0, NULL},
    {"operator-url_count.so", "{size: 10s, allowed_lateness: 5s, top: 3}", "partial", 0, 0, NULL},
    {"operator-url_count.so", "{size: 10s, allowed_lateness: 5s, top: 3}", "total", 0, 0, NULL},
};
/* What url_count's total reads: a partial task's counts, users and
 * watermark (its seeds are made of these, not of events). */
static const char *const partials[] = {
    "{\"kind\":\"url_count.partial\",\"task\":0,\"tasks\":2,\"window_start\":1795737600000,\"url\":\"/a\","
    "\"clicks\":2}",
    "{\"kind\":\"url_count.partial\",\"task\":1,\"tasks\":2,\"window_start\":1795737600000,\"url\":\"/b\","
    "\"clicks\":1}",
    "{\"kind\":\"url_count.users\",\"task\":0,\"tasks\":2,\"window_start\":1795737600000,\"window_end\":"
    "1795737610000,\"users\":1}",
    "{\"kind\":\"url_count.wm\",\"task\":0,\"tasks\":2,\"part\":3,\"watermark\":1795737610000}",
};
#define NPARTS (sizeof parts / sizeof parts[0])

static const char *const events[] = {
    "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":1795737600000}",
    "{\"user_id\":\"u2\",\"url\":\"/b\",\"ts\":1795737601500,\"event_id\":\"e2\"}",
    "{\"user_id\":\"u1\",\"url\":\"/c\",\"ts\":1795737605000}",
    "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":1795737600000}",
};

static void quiet_log(sluice_ctx *ctx, sluice_log_level level, const char *fmt, ...)
{
    (void)ctx;
    (void)level;
    (void)fmt;
}

static void die(const char *what, const target *t, sluice_harness *h)
{
    fprintf(stderr, "restore_fuzz: %s: %s: %s\n", t ? t->file : "state file", what,
            h ? sluice_harness_error(h) : "");
    abort();
}

static sluice_harness *start(target *t)
{
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/%s", SLUICE_PLUGIN_DIR, t->file);
    sluice_harness *h = sluice_harness_new(path, err, sizeof err);
    if (h == NULL) {
        fprintf(stderr, "restore_fuzz: %s\n", err);
        abort();
    }
    h->api.log = quiet_log;
    if (sluice_harness_options(h, t->options) != 0 ||
        (t->part && sluice_harness_part(h, t->part, 0, 1) != 0) || sluice_harness_start(h) != 0)
        die("cannot start", t, h);
    return h;
}

/* The instance's snapshot (data malloc'd by the host's alloc). */
static sluice_snapshot take_snapshot(const target *t, sluice_harness *h)
{
    sluice_snapshot snap = {sizeof snap, 0, NULL, 0};
    const sluice_plugin *d = &h->s.plugin->desc;
    if (sluice_harness_run(h) != 0 || d->snapshot(&h->api, &h->s.ctx, h->s.self, &snap) != SLUICE_OK)
        die("snapshot failed", t, h);
    return snap;
}

static void run_restored(target *t, sluice_harness *h)
{
    const sluice_plugin *d = &h->s.plugin->desc;
    if (t->persistent) {
        sluice_snapshot again = take_snapshot(t, h);
        sluice_status st = d->restore(&h->api, &h->s.ctx, h->s.self, &again);
        free(again.data);
        if (st != SLUICE_OK)
            die("refused its own snapshot", t, h);
        return;
    }
    if (sluice_harness_restart(h) != 0)
        die("refused its own snapshot", t, h);
    if (d->kind == SLUICE_KIND_SOURCE) {
        sluice_harness_poll(h, 4);
        sluice_harness_poll(h, 4);
    } else {
        sluice_harness_push(h, events[0]);
        sluice_harness_push(h, events[1]);
        sluice_harness_end(h);
    }
}

static void fuzz_plugin(target *t, uint32_t version, const uint8_t *data, size_t size)
{
    sluice_harness *h = t->persistent ? t->kept : start(t);
    const sluice_plugin *d = &h->s.plugin->desc;
    /* An exact-size copy, so ASan sees any read past the end. */
    void *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    sluice_snapshot in = {sizeof in, version, copy, size};
    sluice_status st = d->restore(&h->api, &h->s.ctx, h->s.self, &in);
    free(copy);
    if (st != SLUICE_OK && st != SLUICE_ERR_STATE) {
        fprintf(stderr, "restore_fuzz: %s: restore returned %d\n", t->file, (int)st);
        abort();
    }
    if (st == SLUICE_OK)
        run_restored(t, h);
    else if (t->persistent) /* a refusal may leave the state half read: start from a known one */
        run_restored(t, h);
    if (!t->persistent)
        sluice_harness_free(h);
}

static void fuzz_state_file(int fix_checksum, const uint8_t *data, size_t size)
{
    size_t n = size + (fix_checksum ? 8 : 0);
    char *buf = malloc(n ? n : 1);
    memcpy(buf, data, size);
    if (fix_checksum) {
        uint64_t sum = record_hash_bytes(buf, size);
        memcpy(buf + size, &sum, 8);
    }
    state_image img;
    char err[256];
    if (state_image_decode(buf, n, &img, "fuzz", err, sizeof err) == 1) {
        size_t m;
        void *again = state_image_encode(&img, &m);
        if (again == NULL || m != n || memcmp(again, buf, n) != 0) {
            fprintf(stderr, "restore_fuzz: a decoded state image does not encode back to its bytes\n");
            abort();
        }
        free(again);
        state_image_free(&img);
    }
    free(buf);
}

static void write_seed(const char *dir, const char *name, uint8_t which, uint8_t version, const void *data,
                       size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (fp == NULL || fwrite(&which, 1, 1, fp) != 1 || fwrite(&version, 1, 1, fp) != 1 ||
        fwrite(data, 1, size, fp) != size || fclose(fp) != 0) {
        perror(path);
        exit(1);
    }
}

/* Each plugin's snapshot after a few events (or polls), as a seed; and a
 * state file holding them. */
static void write_seeds(const char *dir)
{
    state_image img = {0};
    img.checkpoint_id = 42;
    for (size_t i = 0; i < NTARGETS; i++) {
        target *t = &targets[i];
        sluice_harness *h = t->persistent ? t->kept : start(t);
        const sluice_plugin *d = &h->s.plugin->desc;
        for (int round = 0; round < 3; round++) {
            if (d->kind == SLUICE_KIND_SOURCE) {
                sluice_harness_poll(h, 3);
            } else {
                sluice_harness_push(h, events[round]);
                if (round == 2)
                    sluice_harness_push(h, events[3]);
                sluice_harness_run(h);
            }
            sluice_snapshot snap = take_snapshot(t, h);
            char name[64];
            snprintf(name, sizeof name, "seed-%s-%d", d->name, round);
            write_seed(dir, name, (uint8_t)i, 0, snap.data, snap.size);
            if (round == 2)
                state_image_add(&img, d->name, d->name, d->version, &snap);
            free(snap.data);
        }
        if (!t->persistent)
            sluice_harness_free(h);
    }
    for (size_t i = 0; i < NPARTS; i++) {
        target *t = &parts[i];
        int total = strcmp(t->part, "total") == 0, summary = strcmp(t->part, "summary") == 0;
        sluice_harness *h = start(t);
        for (size_t k = 0; k < 4 && !summary; k++) /* the summary's records are the fuzzer's to find */
            sluice_harness_push(h, total ? partials[k] : events[k]);
        sluice_harness_run(h);
        sluice_snapshot snap = take_snapshot(t, h);
        char name[64];
        snprintf(name, sizeof name, "seed-url_count-%s", t->part);
        write_seed(dir, name, (uint8_t)(PARTS_FIRST + i), 0, snap.data, snap.size);
        free(snap.data);
        sluice_harness_free(h);
    }
    size_t size;
    void *file = state_image_encode(&img, &size);
    /* Without its checksum: the target appends it (byte 1 even). */
    write_seed(dir, "seed-state-file", (uint8_t)STATE_FILE_TARGET, 0, file, size - 8);
    free(file);
    state_image_free(&img);
}

static void remove_file_source_input(void) { unlink(file_source_path); }

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(SLUICE_LOG_ERROR);
    int fd = mkstemp(file_source_path);
    if (fd < 0) {
        perror("mkstemp");
        abort();
    }
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        if (write(fd, events[i], strlen(events[i])) < 0 || write(fd, "\n", 1) != 1)
            abort();
    }
    close(fd);
    atexit(remove_file_source_input);
    snprintf(file_source_options, sizeof file_source_options, "{path: '%s', max_line_bytes: 4096}",
             file_source_path);
    for (size_t i = 0; i < NTARGETS + NPARTS; i++) {
        target *t = i < NTARGETS ? &targets[i] : &parts[i - NTARGETS];
        sluice_harness *h = start(t);
        sluice_snapshot snap = take_snapshot(t, h);
        t->version = snap.encoding_version;
        free(snap.data);
        if (t->persistent)
            t->kept = h;
        else
            sluice_harness_free(h);
    }
    const char *seeds = getenv("SLUICE_FUZZ_SEEDS");
    if (seeds != NULL) {
        write_seeds(seeds);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t which = data[0] % (NTARGETS + 1);
    if (data[0] < PARTS_FIRST && which == STATE_FILE_TARGET) {
        fuzz_state_file(data[1] % 2 == 0, data + 2, size - 2);
        return 0;
    }
    target *t = data[0] >= PARTS_FIRST ? &parts[(data[0] - PARTS_FIRST) % NPARTS] : &targets[which];
    uint32_t version = data[1] < 224 ? t->version : (uint32_t)(data[1] - 224);
    fuzz_plugin(t, version, data + 2, size - 2);
    return 0;
}
