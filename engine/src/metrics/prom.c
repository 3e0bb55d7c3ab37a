/* The Prometheus text format for pipeline snapshots (see prom.h). A family's
 * samples must be contiguous, so the renderer walks families in a fixed
 * order and, for each, every pipeline and step. */
#include "prom.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/plugin.h"
#include "xalloc.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.0.0"
#endif

/* What a step counter becomes: a family and at most one extra label. */
enum fam {
    F_READ,
    F_ACCEPTED,
    F_IN,
    F_OUT,
    F_REJECTED,
    F_STATE_KEYS,
    F_STATE_BYTES,
    F_STATE_OTHER, /* one family per name: sluice_step_state_<name> */
    F_KAFKA_LAG,
    F_KAFKA_QUEUE,
    F_COUNTER,
    F_GAUGE,
    F_NSTEP
};

static const struct {
    const char *name, *type, *label, *help;
} fams[F_NSTEP] = {
    [F_READ] = {"sluice_source_messages_read_total", "counter", NULL,
                "Messages the source step read (accepted or rejected)."},
    [F_ACCEPTED] = {"sluice_source_events_accepted_total", "counter", NULL,
                    "Messages the source step decoded into events."},
    [F_IN] = {"sluice_step_events_in_total", "counter", NULL, "Records a step took in."},
    [F_OUT] = {"sluice_step_events_out_total", "counter", NULL, "Records an operator step emitted."},
    [F_REJECTED] = {"sluice_step_rejected_total", "counter", "reason", "Messages rejected, by reason."},
    [F_STATE_KEYS] = {"sluice_step_state_keys", "gauge", NULL, "Keys an operator step holds in its state."},
    [F_STATE_BYTES] = {"sluice_step_state_bytes", "gauge", NULL, "Memory an operator step's state takes."},
    [F_STATE_OTHER] = {NULL, "gauge", NULL, "A state figure the plugin reports as state.%s."},
    [F_KAFKA_LAG] = {"sluice_kafka_consumer_lag_messages", "gauge", "topic",
                     "Messages of a partition not yet read by the Kafka source (high watermark - position)."},
    [F_KAFKA_QUEUE] = {"sluice_kafka_producer_queue_messages", "gauge", NULL,
                       "Messages the Kafka sink's producer holds, not yet delivered."},
    [F_COUNTER] = {"sluice_plugin_counted_total", "counter", "name",
                   "Another counter a step's plugin reports, by its name."},
    [F_GAUGE] = {"sluice_plugin_value", "gauge", "name",
                 "Another gauge a step's plugin reports, by its name."},
};

static int starts(const char *s, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0 || s[n] == '\0')
        return 0;
    *rest = s + n;
    return 1;
}

/* The family of a counter and its extra label's value (or NULL). */
static enum fam classify(const stats_step *s, const stats_counter *c, const char **label)
{
    const char *name = c->name, *rest;
    *label = NULL;
    if (s->kind == SLUICE_KIND_SOURCE && strcmp(name, "read") == 0)
        return F_READ;
    if (s->kind == SLUICE_KIND_SOURCE && strcmp(name, "accepted") == 0)
        return F_ACCEPTED;
    if (strcmp(name, "in") == 0)
        return F_IN;
    if (strcmp(name, "out") == 0)
        return F_OUT;
    if (starts(name, "rejected.", label))
        return F_REJECTED;
    if (strcmp(name, "state.keys") == 0)
        return F_STATE_KEYS;
    if (strcmp(name, "state.bytes") == 0)
        return F_STATE_BYTES;
    if (starts(name, "state.", &rest)) {
        *label = rest;
        return F_STATE_OTHER;
    }
    if (starts(name, "kafka.lag.", label))
        return F_KAFKA_LAG;
    if (strcmp(name, "kafka.queue.messages") == 0)
        return F_KAFKA_QUEUE;
    *label = name;
    return c->gauge ? F_GAUGE : F_COUNTER;
}

/* A label value: backslash, double quote and newline escaped. */
static void put_value(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fprintf(f, "\\%c", *v);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

static void put_label(FILE *f, const char *key, const char *v)
{
    fprintf(f, ",%s=\"", key);
    put_value(f, v);
    fputc('"', f);
}

/* The start of a sample, name{pipeline="...": the caller adds its labels
 * and closes it. */
static void open_sample(FILE *f, const char *metric, const char *suffix, const char *pipeline)
{
    fprintf(f, "%s%s{pipeline=\"", metric, suffix);
    put_value(f, pipeline);
    fputc('"', f);
}

static void header(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* state.<x> as a metric name: anything but [a-zA-Z0-9_] becomes '_'. */
static void state_metric(const char *x, char *out, size_t size)
{
    int n = snprintf(out, size, "sluice_step_state_%s", x);
    for (size_t i = strlen("sluice_step_state_"); n > 0 && i < (size_t)n && i < size; i++) {
        char ch = out[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_'))
            out[i] = '_';
    }
}

/* Every sample of family fam (for F_STATE_OTHER, of state.<only>). */
static void step_family(FILE *f, stats_snapshot *const *snaps, size_t n, enum fam fam, const char *only)
{
    int headed = 0;
    char metric[200];
    if (only == NULL)
        only = ""; /* every family but F_STATE_OTHER */
    if (fam == F_STATE_OTHER)
        state_metric(only, metric, sizeof metric);
    else
        snprintf(metric, sizeof metric, "%s", fams[fam].name);
    for (size_t i = 0; i < n; i++) {
        if (snaps[i] == NULL)
            continue;
        for (size_t k = 0; k < snaps[i]->nsteps; k++) {
            const stats_step *s = &snaps[i]->steps[k];
            for (size_t c = 0; c < s->ncounters; c++) {
                const char *label;
                if (classify(s, &s->counters[c], &label) != fam)
                    continue;
                if (fam == F_STATE_OTHER && strcmp(label, only) != 0)
                    continue;
                if (!headed) {
                    char help[300];
                    snprintf(help, sizeof help, fams[fam].help, only);
                    header(f, metric, fams[fam].type, help);
                    headed = 1;
                }
                open_sample(f, metric, "", snaps[i]->pipeline);
                put_label(f, "step", s->name);
                if (fam == F_KAFKA_LAG) {
                    /* kafka.lag.<topic>/<partition>; a topic name has no '/'. */
                    const char *slash = strrchr(label, '/');
                    char topic[256];
                    snprintf(topic, sizeof topic, "%.*s", slash ? (int)(slash - label) : 0, label);
                    put_label(f, "topic", topic);
                    put_label(f, "partition", slash ? slash + 1 : label);
                } else if (fams[fam].label) {
                    put_label(f, fams[fam].label, label);
                }
                fprintf(f, "} %lld\n", (long long)s->counters[c].value);
            }
        }
    }
}

/* The distinct state.<x> names (other than keys and bytes), each rendered
 * once as its own family. */
static void state_families(FILE *f, stats_snapshot *const *snaps, size_t n)
{
    const char **seen = NULL;
    size_t nseen = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; snaps[i] && k < snaps[i]->nsteps; k++) {
            const stats_step *s = &snaps[i]->steps[k];
            for (size_t c = 0; c < s->ncounters; c++) {
                const char *label;
                if (classify(s, &s->counters[c], &label) != F_STATE_OTHER)
                    continue;
                size_t j = 0;
                while (j < nseen && strcmp(seen[j], label) != 0)
                    j++;
                if (j < nseen)
                    continue;
                const char **grown = xrealloc(seen, (nseen + 1) * sizeof *seen);
                if (grown == NULL)
                    continue;
                seen = grown;
                seen[nseen++] = label;
                step_family(f, snaps, n, F_STATE_OTHER, label);
            }
        }
    free(seen);
}

static void histogram(FILE *f, stats_snapshot *const *snaps, size_t n, const char *name, const char *help,
                      size_t offset)
{
    header(f, name, "histogram", help);
    for (size_t i = 0; i < n; i++) {
        if (snaps[i] == NULL)
            continue;
        const stats_histogram *h = (const stats_histogram *)((const char *)snaps[i] + offset);
        uint64_t cum = 0;
        for (size_t b = 0; b < STATS_NBUCKETS; b++) {
            cum += h->buckets[b];
            open_sample(f, name, "_bucket", snaps[i]->pipeline);
            fprintf(f, ",le=\"%g\"} %llu\n", stats_bucket_bounds[b], (unsigned long long)cum);
        }
        open_sample(f, name, "_bucket", snaps[i]->pipeline);
        fprintf(f, ",le=\"+Inf\"} %llu\n", (unsigned long long)h->count);
        open_sample(f, name, "_sum", snaps[i]->pipeline);
        fprintf(f, "} %.9g\n", h->sum);
        open_sample(f, name, "_count", snaps[i]->pipeline);
        fprintf(f, "} %llu\n", (unsigned long long)h->count);
    }
}

/* One sample per pipeline of a figure of the whole pipeline. */
#define PIPELINE_FAMILY(f, snaps, n, name, type, help, cond, fmt, expr) \
    do {                                                                \
        int headed_ = 0;                                                \
        for (size_t i = 0; i < (n); i++) {                              \
            const stats_snapshot *s = (snaps)[i];                       \
            if (s == NULL || !(cond))                                   \
                continue;                                               \
            if (!headed_++)                                             \
                header(f, name, type, help);                            \
            open_sample(f, name, "", s->pipeline);                      \
            fprintf(f, "} " fmt "\n", expr);                            \
        }                                                               \
    } while (0)

char *prom_render(stats_snapshot *const *snaps, size_t n, int64_t now_ms, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (f == NULL)
        return NULL;
    header(f, "sluice_build_info", "gauge", "The running sluice's version (always 1).");
    fprintf(f, "sluice_build_info{version=\"%s\"} 1\n", SLUICE_VERSION);
    PIPELINE_FAMILY(f, snaps, n, "sluice_pipeline_running", "gauge",
                    "1 while the pipeline runs, 0 once its run loop is over.", 1, "%d", s->running);
    for (int fam = 0; fam < F_NSTEP; fam++) {
        if (fam == F_STATE_OTHER)
            state_families(f, snaps, n);
        else
            step_family(f, snaps, n, (enum fam)fam, NULL);
    }
    /* Event time: only once there is one, and not the +infinity of an ended input. */
#define WM_KNOWN (s->watermark != SLUICE_TIME_MIN && s->watermark != SLUICE_TIME_MAX)
    PIPELINE_FAMILY(f, snaps, n, "sluice_pipeline_watermark_seconds", "gauge",
                    "The pipeline's watermark: event time it has seen complete (seconds since the epoch).",
                    WM_KNOWN, "%.3f", (double)s->watermark / 1000.0);
    PIPELINE_FAMILY(f, snaps, n, "sluice_pipeline_watermark_lag_seconds", "gauge",
                    "How far the watermark is behind the wall clock.", WM_KNOWN, "%.3f",
                    (double)(now_ms - s->watermark) / 1000.0);
#undef WM_KNOWN
    histogram(f, snaps, n, "sluice_pipeline_batch_duration_seconds",
              "Time a batch the source read took through the rest of the pipeline.",
              offsetof(stats_snapshot, batches));
    PIPELINE_FAMILY(f, snaps, n, "sluice_pipeline_checkpoints_total", "counter", "Checkpoints completed.", 1,
                    "%llu", (unsigned long long)s->checkpoints_done);
    histogram(f, snaps, n, "sluice_pipeline_checkpoint_duration_seconds",
              "Time from a checkpoint's start (snapshots, flushes) to its completion (sinks confirmed).",
              offsetof(stats_snapshot, checkpoints));
    PIPELINE_FAMILY(f, snaps, n, "sluice_pipeline_last_checkpoint_timestamp_seconds", "gauge",
                    "When the last checkpoint completed (seconds since the epoch).",
                    s->last_checkpoint_ms > 0, "%.3f", (double)s->last_checkpoint_ms / 1000.0);
    PIPELINE_FAMILY(f, snaps, n, "sluice_pipeline_stages", "gauge", "Keyed stages of the pipeline.", 1, "%zu",
                    s->stages);
    PIPELINE_FAMILY(f, snaps, n, "sluice_pipeline_tasks", "gauge", "Tasks each keyed stage runs in.", 1,
                    "%zu", s->tasks);
    PIPELINE_FAMILY(f, snaps, n, "sluice_pipeline_threads", "gauge",
                    "Threads the keyed stages' tasks run on.", 1, "%zu", s->threads);
    header(f, "sluice_pipeline_thread_events_total", "counter",
           "Records the tasks run by each thread took in (how the keyed stages' work was shared).");
    for (size_t i = 0; i < n; i++)
        for (size_t w = 0; snaps[i] && w < snaps[i]->threads; w++) {
            open_sample(f, "sluice_pipeline_thread_events_total", "", snaps[i]->pipeline);
            fprintf(f, ",thread=\"%zu\"} %llu\n", w, (unsigned long long)snaps[i]->thread_events[w]);
        }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
