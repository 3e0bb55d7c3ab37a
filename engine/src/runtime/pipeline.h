/* A pipeline ready to run: its steps with their plugins, validated options,
 * ports and queues.
 *
 * Stages and tasks: an operator whose state is keyed (by user, or by the
 * dedup key of an event) runs in a keyed stage: `partitions` tasks, each
 * with its own instance of every step of the stage. An exchange routes the
 * stream feeding the stage to the task of each record's key, so an instance
 * sees every record of its keys, in stream order, with the watermark a
 * single instance would see (tasks.c). The tasks of a stage run on
 * `threads` worker threads (the pipeline's thread is one of them); a plugin
 * instance is only ever called from one thread at a time. The other steps
 * (the source, sinks, operators whose state spans every record) run on the
 * pipeline's thread and read the tasks' outputs merged in stream order.
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

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "arena.h"
#include "diag.h"
#include "event_decoder.h"
#include "pipeline_def.h"
#include "plugin_loader.h"
#include "record.h"
#include "source_side.h"
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
    int keep_markers;  /* never merge consecutive markers (the keyed region: see tasks.c) */
    /* A step's port: raised once a record emitted on it by a task was asked
     * for its JSON (a sink downstream). A task's port: the step's flag. */
    _Atomic unsigned char json_wanted;
    _Atomic unsigned char *json_wanted_at;
} port;

typedef struct step_input {
    size_t step;
    size_t port;
} step_input;

/* A cache line of its own: instances on different threads count at once. */
struct sluice_counter {
    _Alignas(64) int64_t value;
    char *name;
    int gauge;
};

struct step;
struct pipeline;

struct task;

struct sluice_ctx {
    struct pipeline *p;
    struct step *s;
    struct task *task; /* NULL outside a keyed stage */
    arena *arena;      /* where records this instance makes live for the tick */
    int64_t cur_wm;    /* of the item being processed */
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
    size_t stage;              /* 1-based keyed stage it runs in (see above), 0 none */
    int is_instance;           /* a task's copy: def, opts and inputs belong to the step it copies */
    const item_vec **gather_q; /* scratch for fan-in: the queues read this tick */
    size_t *gather_pos;
    size_t gather_cap;
    int64_t timer_due; /* wall ms, 0 = none */
    int async_sink;
    uint64_t acked_checkpoint;
    sluice_state_key key; /* what its state is keyed by: its plugin's, or its part's */
    int part;             /* 1 + its index in its plugin's parts when it runs one part; 0 whole */
    int remote;           /* reads the exchange through the broker, in its tasks (exchange.c) */
} step;

/* One upstream port feeding a keyed stage: its records are routed to the
 * stage's tasks by the stage's key. */
typedef struct exchange {
    size_t step, port;
    int64_t routed_wm;   /* the last watermark every task was told of */
    uint64_t routed_seq; /* the sequence number it was told at */
    item_vec merged;     /* the upstream's instances merged, this tick */
    int merged_now;      /* merged is this tick's: steps outside the stages read it too */
    const item_vec **queues;
    size_t *pos;
} exchange;

/* One in-process partition of a keyed stage: its instances of the stage's
 * steps (indexed like pipeline.steps; the others unused), what its
 * exchanges routed to it this tick, and the arena for what it makes. */
typedef struct task {
    _Alignas(64) arena arena; /* tasks run side by side: no cache line shared */
    size_t index;
    step *steps;
    port *in; /* [stage.nex] */
    /* A flush in rounds under way (end_of_input): 1 + the index in the
     * stage's order of the step whose watermark hook has more to emit, and
     * the marker it fires at; 0 when none. */
    size_t flush_step;
    item flush_marker;
    _Atomic uint64_t claimed; /* the round (pipeline.round) in which a worker took it */
} task;

typedef struct stage {
    sluice_state_key key;
    char label[64]; /* "keyed by user, 8 tasks" */
    size_t *order;  /* its steps, topological */
    size_t n;
    exchange *ex;
    size_t nex;
    task *tasks; /* [pipeline.ntasks] */
} stage;

struct worker_pool;
struct pipeline_stats;

/* The exchange through the broker (exchange.c): with partition tasks and a
 * source that offers one, the step that must see every input partition's
 * records (the last part of a PARTITION layout) runs in a task per
 * partition of a topic the source writes and reads, fed what the keyed
 * part's tasks send it. Task indices: the input partitions' first, then
 * the exchange's. */
typedef struct exchange_batch {
    char *data; /* JSON lines for one partition of the exchange */
    size_t len, cap;
} exchange_batch;

typedef struct broker_exchange {
    int on;
    char name[192];          /* "<pipeline>.<step>": the source makes the topic's name of it */
    size_t from;             /* the step whose records are sent (main output, in the input tasks) */
    size_t to;               /* the step that reads them (in the exchange's tasks) */
    size_t port;             /* the source's port they arrive on */
    int32_t first_id;        /* the source's partition id of the exchange's partition 0 */
    size_t nparts;           /* the exchange's partitions */
    size_t ninput;           /* input partitions: the tasks that send */
    uint8_t *ended;          /* [nparts * ninput]: the sending task's last message here was its end */
    uint8_t *end_sent;       /* [ninput]: this instance sent the task's end */
    exchange_batch *batches; /* [nparts]: what a task sends each partition in a round */
    int input_ended;         /* stop_at_end: the source read its input to its end */
    struct sluice_counter *c_sent, *c_sent_bytes, *c_received; /* the source's exchange.* */
} broker_exchange;

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
    int stateful_global;         /* one that runs outside the stages does */
    /* Partition tasks (`key:` on the source): a stage's tasks are the
     * source's input partitions, each with that partition's watermark; its
     * state is saved with the source's positions and follows the partition
     * to whichever instance is assigned it next (tasks.c, partition_tasks.c). */
    int by_partition;
    int stands_in; /* in-process tasks standing in for partition tasks (`sluice test`) */
    struct task_state {
        uint8_t owned; /* assigned here: its state is saved at checkpoints */
        uint8_t dirty; /* records reached it since its state was last saved */
    } * task_state;    /* [ntasks] */
    stage *stages;     /* keyed stages, in the order they run */
    size_t nstages;
    size_t ntasks;        /* per stage */
    size_t *global_order; /* the steps outside stages but the source, topological */
    size_t nglobal;
    /* The same steps by the last stage their inputs come from, directly or
     * through other such steps (a topological order too): the first
     * ready_end[k] need only stages 1..k, so they may run on the pipeline's
     * thread while the tasks of stage k+1 run on the others (pipeline_run.c).
     * ready_end has nstages + 1 entries. */
    size_t *global_by_stage;
    size_t *ready_end;
    int overlapping;        /* steps outside the stages are running beside the tasks */
    uint64_t rounds_beside; /* rounds in which they did (the metrics' runtime) */
    stage *running;         /* the stage whose tasks the workers take this round; NULL: decoding */
    task *flushing;         /* the task flushing alone at the end of the input */
    int flush_rounds;       /* the end of the input: 1 the tasks fire, 2 each emits its next chunk */
    int tick_caught_up;     /* the source had fewer messages than the batch this tick */
    int poll_ahead_now;     /* the source may be polled ahead in this tick (pipeline_run.c) */
    int ahead_job;          /* this round's helper 1 polls ahead first */
    size_t threads;
    size_t parallel_min; /* fewer records than this in a round: no helpers (pipeline_run.c) */
    struct worker_pool *workers;
    uint64_t *worker_records; /* events each thread's tasks took in: [threads] */
    pthread_mutex_t fail_lock;
    _Atomic size_t next_task; /* decoding: the next message a worker takes this round */
    uint64_t round;           /* rounds started: tasks are claimed by round (pipeline_run.c) */
    _Atomic int failed;       /* read by every worker thread */
    char failure[512];
    const volatile sig_atomic_t *stop;
    struct pipeline_stats *stats; /* where the run loop publishes figures for other threads; NULL none */
    diag_list *validating;        /* where option_error reports, while validate hooks run */
    int64_t memory_paused_since;  /* memory_limit: wall ms the source was paused at (or last shrank); 0 not */
    int64_t memory_lowest;        /* the state's size then */
    char **discard_state;         /* steps whose checkpointed state is dropped on purpose (--discard-state) */
    size_t ndiscard_state;
    broker_exchange xchg;
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
/* Graphviz DOT of the pipeline, its keyed stages boxed. */
void pipeline_print_dot(const pipeline *p, FILE *out);
/* A step's plugin for the graph (graph_plugin_info_fn over a pipeline). */
int pipeline_plugin_info(void *ud, size_t i, sluice_kind *kind, const char *const **outputs);
/* How the pipeline runs, one line per keyed stage (its steps, and what the
 * exchange into it routes) and one for the steps outside them, each line
 * starting with indent; nothing when every step runs once. */
void pipeline_print_stages(const pipeline *p, const char *indent, FILE *out);

/* Partition tasks (partition_tasks.c): start a task afresh (its partition
 * was revoked, or is assigned without state), restore it from its saved
 * state, and save the state of every owned task that changed. */
int partition_task_reset(pipeline *p, size_t t);
/* partition: the source's partition id (an input's, or the exchange's). */
sluice_status partition_task_restore(pipeline *p, size_t partition, const void *data, size_t size,
                                     const char *error);
void partition_tasks_save(pipeline *p, uint64_t checkpoint_id);

/* The exchange through the broker (exchange.c). */
void exchange_plan(pipeline *p);
/* Another source stands in for the keyed one (`sluice test`): the step
 * reads the sending step in this process again. */
void exchange_undo(pipeline *p);
/* After partition_count: open it at the source; the exchange's partition
 * count, or 0 when there is none, -1 on failure (the pipeline failed). */
long exchange_open(pipeline *p, size_t ninput);
/* The task of a source partition id, or -1. */
long exchange_task_of(const pipeline *p, int32_t partition);
/* The source partition id of task t. */
int32_t exchange_partition_of(const pipeline *p, size_t t);
/* 1 when the id is one of the exchange's partitions. */
int exchange_has_partition(const pipeline *p, int32_t partition);
/* A message of the exchange, pushed by the source: taken in as a record. */
void exchange_take(pipeline *p, sluice_record *rec, uint64_t seq);
/* After a round of the input tasks: send what the sending step emitted. */
void exchange_send_round(pipeline *p, const stage *st);
/* api->source_exchange_pending (plugin.h). */
int exchange_pending(pipeline *p);
/* A task's exchange state in its image, and back. */
void exchange_save_task(const pipeline *p, size_t t, state_image *img);
int exchange_restore_entry(pipeline *p, size_t t, const state_entry *e);
void exchange_reset_task(pipeline *p, size_t t);
void exchange_free(pipeline *p);
void exchange_print(const pipeline *p, const char *indent, FILE *out);

/* memory_limit (memory_budget.c): 1 when the source must not be polled
 * this tick, the operators' state being over the limit; fails the pipeline
 * when it does not shrink while paused. */
int memory_budget_pause(pipeline *p, int64_t now);

/* Create a step's (or task instance's) plugin instance; -1 (failed) if not. */
int step_create(pipeline *p, step *s);

/* Used by host_api.c and the run loop. */
void items_push(item_vec *v, sluice_record *rec, int64_t wm, uint64_t seq);
/* Room for `more` items (never fails: out of memory ends the process, xalloc.h). */
void items_reserve(item_vec *v, size_t more);
/* 0 for a hook's status that is not an error; else fail the pipeline
 * naming the hook, and -1. */
int step_check_status(pipeline *p, step *s, const char *hook, sluice_status st);
void step_advance_ports(step *s, int64_t wm, uint64_t seq);
/* How many instances step i has (one per task in a stage), and the nth. */
static inline size_t step_instances(const pipeline *p, size_t i) { return p->steps[i].stage ? p->ntasks : 1; }
static inline step *step_instance(pipeline *p, size_t i, size_t n)
{
    return p->steps[i].stage ? &p->stages[p->steps[i].stage - 1].tasks[n].steps[i] : &p->steps[i];
}

/* "user", "event" or "url". */
const char *stage_key_name(sluice_state_key key);

/* Keyed stages (tasks.c): plan them and make the tasks' instances (-1 when
 * out of memory); route a stage's input to its tasks for this tick; empty
 * the queues at the end of a tick; free them. */
int tasks_build(pipeline *p);
/* With partition tasks: make the stages' tasks, one per input partition,
 * once the source is created and knows how many there are. */
int tasks_make(pipeline *p, size_t ntasks);
/* Stage output read outside the stages, with partition tasks: each item
 * restamped with the pipeline's watermark (the minimum over partitions)
 * instead of its task's, and a last marker at the watermark now. */
void tasks_restamp(const pipeline *p, item_vec *v);
/* Returns how many records it routed to the tasks. */
size_t tasks_route(pipeline *p, stage *st);
/* The index of stage st's exchange carrying (step, port); st->nex if none. */
size_t stage_exchange(const stage *st, size_t step, size_t port);
/* The tasks' output of (step, port) merged in stream order this tick, when an
 * exchange has merged it already; else NULL. */
const item_vec *tasks_merged(const pipeline *p, size_t step, size_t port);
void tasks_end_tick(pipeline *p);
/* On the task's thread, after it ran: the JSON of every record it made on
 * a port whose records a sink asked the JSON of, so the sinks on the
 * pipeline's thread only copy bytes. */
void tasks_encode_ahead(const stage *st, task *t);
void tasks_free(pipeline *p);
/* Release what a step (or a task's instance of one) owns, after destroy. */
void step_free_instance(step *s);

/* A step's counters summed over its instances, in first-seen order; the
 * array is malloc'd (free it), names borrowed from the counters. */
typedef struct counter_total {
    const char *name;
    int64_t value;
} counter_total;
size_t pipeline_step_totals(const pipeline *p, size_t i, counter_total **out);

/* Merge nq queues (each in sequence order) into out by sequence number;
 * ties keep queue order. pos is scratch of nq entries. */
void items_merge(const item_vec *const *queues, size_t *pos, size_t nq, item_vec *out);

/* Tell one port's consumers that the watermark moved to wm at seq. */
void port_advance(port *pt, int64_t wm, uint64_t seq);

struct sluice_counter *step_counter(step *s, const char *name);
port *step_port(step *s, const char *name);
void pipeline_fail(pipeline *p, const char *scope, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
extern const sluice_host_api host_api;
/* Set while a worker runs a task: the arena text made for it goes to (the
 * records it reads are shared with other tasks). */
extern _Thread_local arena *host_thread_arena;

#endif
