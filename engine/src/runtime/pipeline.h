/* A pipeline ready to run: its steps with their plugins, validated options,
 * ports and queues. One pipeline runs on one thread; its plugin instances
 * are only ever called from it.
 *
 * How records move: each engine tick the source is polled for up to
 * batch_size messages; every step then runs once in topological order over
 * the items its inputs queued in this tick. An item is a record stamped with
 * the watermark in force after it and the sequence number of the source
 * message it derives from, or a watermark marker (rec == NULL) where an
 * upstream step consumed records without emitting and the watermark moved.
 * Fan-in merges inputs by sequence number, so results never depend on how
 * the stream was cut into ticks. Everything a tick allocates lives in the
 * tick arena, reset when the tick ends. */
#ifndef SLUICE_PIPELINE_H
#define SLUICE_PIPELINE_H

#include <signal.h>
#include <stdint.h>

#include "arena.h"
#include "diag.h"
#include "event_decoder.h"
#include "pipeline_def.h"
#include "plugin_loader.h"
#include "record.h"
#include "state_store.h"
#include "watermark.h"

typedef struct item {
    sluice_record *rec; /* NULL: a watermark marker */
    int64_t wm;
    uint64_t seq;
} item;

typedef struct item_vec {
    item *v;
    size_t n, cap;
} item_vec;

typedef struct port {
    const char *name;
    item_vec queue;
    int64_t last_wm;   /* of the last item queued */
    size_t consumers;  /* steps reading this port */
    int needs_markers; /* some consumer acts on watermarks */
} port;

typedef struct step_input {
    size_t step;
    size_t port;
} step_input;

struct sluice_counter {
    char *name;
    int64_t value;
    int gauge;
};

struct step;
struct pipeline;

struct sluice_ctx {
    struct pipeline *p;
    struct step *s;
    int64_t cur_wm; /* of the item being processed */
    uint64_t cur_seq;
};

struct sluice_batch {
    const item *items;
    size_t n, pos;
    struct sluice_ctx *ctx;
};

typedef struct step {
    const step_def *def;
    const loaded_plugin *plugin;
    sluice_options *opts;
    void *self; /* the instance; NULL until created */
    int created;
    struct sluice_ctx ctx;
    char scope[160]; /* "pipeline/step" for logs */
    port *ports;     /* [0] main; the source's [1] rejected; then declared outputs */
    size_t nports;
    step_input *inputs;
    size_t ninputs;
    item_vec merged; /* scratch for fan-in */
    struct sluice_counter **counters;
    size_t ncounters;
    struct sluice_counter *c_in, *c_out;
    int64_t timer_due; /* wall ms, 0 = none */
    int async_sink;
    uint64_t acked_checkpoint;
} step;

/* The source side: how messages become events and time. */
typedef struct source_side {
    int raw; /* event: raw — no decoding, no event time */
    event_config events;
    wm_tracker wm;
    uint64_t next_seq;
    int64_t tick_now; /* wall clock for this tick */
    int ended;
    struct sluice_counter *c_accepted;
    /* Messages the tick's records point into (zero copy), released at its end. */
    struct borrowed_message {
        void (*release)(void *);
        void *arg;
    } * borrowed;
    size_t nborrowed, borrowed_cap;
} source_side;

/* Hand every borrowed message of the tick back to the source. */
void source_release_borrowed(source_side *src);

typedef struct pipeline {
    pipeline_def *def;
    plugin_path path;
    step *steps;
    size_t nsteps;
    size_t *order; /* topological; order[0] is the source */
    size_t source;
    arena tick_arena;
    source_side src;
    uint64_t checkpoint_id;      /* last begun */
    uint64_t checkpoint_pending; /* begun, waiting for async sinks; 0 none */
    state_image pending_state;   /* snapshots of the checkpoint being taken */
    int stateful;                /* some operator keeps state (has a snapshot hook) */
    int failed;
    char failure[512];
    const volatile sig_atomic_t *stop;
} pipeline;

/* Parse, load plugins, validate options, event settings and the graph.
 * Returns NULL (with diags) when anything is wrong; with check_only the
 * pipeline is opened but never started. */
pipeline *pipeline_open(const char *path, diag_list *diags);
/* Create every plugin instance (sinks first); -1 on failure (logged). */
int pipeline_start(pipeline *p);
/* Run until the source ends, *stop is set, or a failure; then fire the
 * watermark to +infinity if the input ended, flush and destroy instances.
 * Returns 0 on success. */
int pipeline_run(pipeline *p, const volatile sig_atomic_t *stop);
void pipeline_close(pipeline *p);
/* Counters as one JSON object {"pipeline":..,"steps":{name:{counter:value}}}. */
char *pipeline_metrics_json(const pipeline *p);
/* Graphviz DOT of the pipeline. */
void pipeline_print_dot(const pipeline *p, FILE *out);

/* Used by host_api.c and the run loop. */
void items_push(item_vec *v, sluice_record *rec, int64_t wm, uint64_t seq);
void step_advance_ports(step *s, int64_t wm, uint64_t seq);
struct sluice_counter *step_counter(step *s, const char *name);
port *step_port(step *s, const char *name);
void pipeline_fail(pipeline *p, const char *scope, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
extern const sluice_host_api host_api;

#endif
