/*
 * sluice/plugin.h - the one header a Sluice plugin is built against.
 *
 * A plugin is a shared object that exports exactly one function:
 *
 *     SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void);
 *
 * Build it with nothing but this header:
 *
 *     cc -shared -fPIC -fvisibility=hidden -I engine/include -o x.so x.c
 *
 * It links nothing of the engine: everything it may call arrives as a table of
 * function pointers (sluice_host_api) handed to each hook, in the manner of
 * Redis modules and SQLite extensions.
 *
 * Compatibility rules (the contract with plugin authors):
 *  - SLUICE_ABI_MAJOR changes only when an existing struct member or function
 *    changes meaning; the engine refuses a plugin of another major.
 *  - SLUICE_ABI_MINOR grows when members are added. Every struct that crosses
 *    the boundary starts with its own size (struct_size) and only ever grows at
 *    its end, so an old plugin's shorter descriptor is read as far as it goes
 *    and members past its end count as NULL / zero; a plugin can test
 *    SLUICE_HOST_HAS(api, member) before calling a host function newer than the
 *    engine it may be loaded into.
 *
 * Ownership, in one place (each function repeats what applies to it):
 *  - Everything the host passes to a hook is BORROWED for the duration of that
 *    call unless stated otherwise: records, batches, strings, options.
 *  - Records a plugin creates with api->record_new() belong to the host; the
 *    plugin hands them on with api->emit() (or drops them) within the same hook
 *    call and must not keep the pointer afterwards.
 *  - Plugin state (the void *self returned by create) belongs to the plugin and
 *    is released in destroy. Buffers a plugin returns from snapshot are
 *    allocated with api->alloc and owned by the host from then on.
 *
 * Threads: one plugin instance is only ever called from one thread at a time.
 * Different instances may run on different threads (one per pipeline), so a
 * plugin keeps its state in the instance, never in globals.
 *
 * Plugins never print, exit or abort: they report through api->log, error
 * buffers and return codes.
 */
#ifndef SLUICE_PLUGIN_H
#define SLUICE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SLUICE_ABI_MAJOR 1
#define SLUICE_ABI_MINOR 8
/* An abi_version value, for comparing with the host's (api->abi_version). */
#define SLUICE_ABI_VERSION_OF(major, minor) ((uint32_t)((major) << 16 | (minor)))
#define SLUICE_ABI_VERSION SLUICE_ABI_VERSION_OF(SLUICE_ABI_MAJOR, SLUICE_ABI_MINOR)

/* The one symbol the engine looks up with dlsym(). */
#define SLUICE_PLUGIN_ENTRY_SYMBOL "sluice_plugin_entry"

#if defined(__GNUC__)
#define SLUICE_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define SLUICE_PLUGIN_EXPORT
#endif

/* Event time and watermarks are int64 milliseconds since the Unix epoch. */
#define SLUICE_TIME_MIN INT64_MIN /* "no watermark yet" */
#define SLUICE_TIME_MAX INT64_MAX /* watermark +infinity: the input has ended */

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */

typedef enum sluice_status {
    SLUICE_OK = 0,
    SLUICE_END = 1,         /* a source has no more data (bounded input)   */
    SLUICE_MORE = 2,        /* watermark hook: more output is due at this
                             * watermark; call again (see the hook)         */
    SLUICE_ERR = -1,        /* generic failure; details in errbuf / log    */
    SLUICE_ERR_CONFIG = -2, /* bad options                                 */
    SLUICE_ERR_IO = -3,     /* I/O failure (file, network)                 */
    SLUICE_ERR_STATE = -4,  /* snapshot cannot be restored                 */
    SLUICE_ERR_NOMEM = -5
} sluice_status;

/* ------------------------------------------------------------------------ */
/* Opaque handles: their layout belongs to the engine and may change.        */

typedef struct sluice_ctx sluice_ctx;         /* one plugin instance's link to the host */
typedef struct sluice_record sluice_record;   /* one event or result                    */
typedef struct sluice_batch sluice_batch;     /* records handed to process()            */
typedef struct sluice_options sluice_options; /* the validated options of a step      */
typedef struct sluice_counter sluice_counter; /* a named counter of this instance     */

/* ------------------------------------------------------------------------ */
/* Plugin descriptor                                                         */

typedef enum sluice_kind {
    SLUICE_KIND_SOURCE = 1,   /* produces messages (file, clickgen, kafka)    */
    SLUICE_KIND_OPERATOR = 2, /* records in, records out (dedup, url_count)  */
    SLUICE_KIND_SINK = 3      /* records in, written out (stdout, file, kafka) */
} sluice_kind;

typedef enum sluice_opt_type {
    SLUICE_OPT_STRING = 1,
    SLUICE_OPT_INT = 2,      /* int64; min/max apply                           */
    SLUICE_OPT_DOUBLE = 3,   /* min/max apply                                  */
    SLUICE_OPT_BOOL = 4,     /* true/false/yes/no/on/off                       */
    SLUICE_OPT_DURATION = 5, /* "250ms", "5s", "30m", "1h", "1d" or integer ms; "off" = -1 when allow_off */
    SLUICE_OPT_ENUM = 6,     /* one of enum_values                             */
    SLUICE_OPT_MAP = 7,      /* string -> string mapping (e.g. librdkafka config) */
    SLUICE_OPT_LIST = 8      /* list of strings; a scalar is a list of one     */
} sluice_opt_type;

/* One option a plugin accepts. The host validates a pipeline's options against
 * this table (types, ranges, required, unknown keys) before create() is called,
 * and renders `sluice plugins` help from it. Terminate the array with an entry
 * whose name is NULL. */
typedef struct sluice_option_spec {
    uint32_t struct_size; /* sizeof(sluice_option_spec)                    */
    const char *name;
    sluice_opt_type type;
    const char *default_value; /* as YAML text; NULL means no default           */
    int required;              /* non-zero: must be given (default ignored)     */
    const char *doc;           /* one line, shown by `sluice plugins`           */
    double min, max;           /* for INT, DOUBLE, DURATION (ms); ignored if min > max */
    const char *enum_values;   /* for ENUM: "a|b|c"                             */
    int allow_off;             /* DURATION: accepts "off" (read back as -1)     */
    int secret;                /* never log or print the value (passwords)      */
} sluice_option_spec;

#define SLUICE_OPTION_END                                                                     \
    {                                                                                         \
        sizeof(sluice_option_spec), NULL, (sluice_opt_type)0, NULL, 0, NULL, 0, 0, NULL, 0, 0 \
    }

struct sluice_host_api;
typedef struct sluice_host_api sluice_host_api;

/* How an operator's state is keyed (sluice_plugin.state_key, ABI 1.2). The
 * engine partitions the stream by the declared key: every record of one key
 * reaches the same instance, in stream order, with the same watermarks as a
 * single instance would see, so results do not depend on how many instances
 * run. USER and EVENT need the decoded roles of the source's events: an
 * operator upstream that makes new records (record_new) instead of passing
 * events on cannot feed a keyed one. */
typedef enum sluice_state_key {
    SLUICE_STATE_KEY_UNDECLARED = 0, /* older plugins: treated as ALL              */
    SLUICE_STATE_KEY_ALL = 1,        /* state spans every record: one instance   */
    SLUICE_STATE_KEY_NONE = 2,       /* stateless: any instance may take a record */
    SLUICE_STATE_KEY_USER = 3,       /* state per user (SLUICE_ROLE_USER)         */
    SLUICE_STATE_KEY_EVENT = 4,      /* state per event identity: the event_id when
                                      * present, else user, url and event time
                                      * (docs/semantics.md section 3's dedup key)     */
    SLUICE_STATE_KEY_URL = 5,        /* state per URL (SLUICE_ROLE_URL), ABI 1.6      */
    SLUICE_STATE_KEY_PARTITION = 6   /* parts only, ABI 1.7: state per input partition,
                                      * in the partition tasks (`key:` on the source):
                                      * a pre-aggregation of whatever its task reads */
} sluice_state_key;

/* A part of a decomposable operator (sluice_plugin.parts, ABI 1.6). */
typedef struct sluice_part {
    const char *name;     /* [a-z0-9_]+; the step's part runs as step "<step>/<name>" */
    sluice_state_key key; /* USER, EVENT, URL or PARTITION: the key its tasks are
                           * partitioned by; ALL for the last part of a layout, which
                           * merges the others                                       */
} sluice_part;

/* Whether a plugin keeps state (sluice_plugin.state, ABI 1.3). */
typedef enum sluice_state_decl {
    SLUICE_STATE_UNDECLARED = 0, /* older plugins: stateful iff it has a snapshot hook */
    SLUICE_STATE_NONE = 1,       /* keeps nothing a restart could lose            */
    SLUICE_STATE_KEPT = 2        /* keeps state: must snapshot and restore it to
                                  * run in a pipeline with state_dir              */
} sluice_state_decl;

/* Snapshot encoding: plugins write their state as bytes and say which version
 * of their own encoding it is; restore gets that version back so state written
 * by an older build is either read or refused with SLUICE_ERR_STATE. */
typedef struct sluice_snapshot {
    uint32_t struct_size;
    uint32_t encoding_version;
    void *data; /* allocated with api->alloc; owned by the host after return */
    size_t size;
} sluice_snapshot;

/*
 * The descriptor a plugin's entry function returns. It must stay valid (static
 * storage) as long as the shared object is loaded.
 *
 * Hooks that do not apply to a kind are NULL. Every hook receives the host API
 * table and the instance's ctx; `self` is what create() returned.
 */
typedef struct sluice_plugin {
    uint32_t struct_size; /* sizeof(sluice_plugin) as the plugin was built */
    uint32_t abi_version; /* SLUICE_ABI_VERSION as the plugin was built    */
    const char *name;     /* [a-z0-9_]+, unique within its kind            */
    sluice_kind kind;
    const char *version;               /* the plugin's own version, e.g. "1.2.0"        */
    const char *description;           /* one line                                      */
    const sluice_option_spec *options; /* NULL-name terminated; may be NULL      */
    const char *const *outputs;        /* extra named outputs besides "main", NULL
                                        * terminated (e.g. {"rejected", NULL}); may be NULL */

    /* Create an instance. Options were validated against `options`. On failure
     * write a message into errbuf (NUL-terminated, at most errbuf_size bytes)
     * and return NULL. */
    void *(*create)(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts, char *errbuf,
                    size_t errbuf_size);

    /* Release everything the instance owns. Always called once for an instance
     * that create() returned, after flush(). */
    void (*destroy)(const sluice_host_api *api, sluice_ctx *ctx, void *self);

    /* SOURCE: deliver up to `budget` messages through api->source_push(), then
     * return SLUICE_OK, or SLUICE_END when the input is exhausted, or an error.
     * Wait at most timeout_ms (>= 0; 0 = do not wait) for data; returning SLUICE_OK having pushed
     * nothing is fine (the host uses the pause for timers and idleness). */
    sluice_status (*poll)(const sluice_host_api *api, sluice_ctx *ctx, void *self, size_t budget,
                          int timeout_ms);

    /* OPERATOR / SINK: process the records of a batch, in order:
     *     for (const sluice_record *r; (r = api->batch_next(batch)) != NULL;) ...
     * Use api->batch_next, not your own index: the host stamps what you emit
     * with the position (event time, watermark) of the record being processed.
     * Each record carries the watermark in force after it
     * (api->record_watermark); an event-time operator treats it as the current
     * watermark when it processes that record. */
    sluice_status (*process)(const sluice_host_api *api, sluice_ctx *ctx, void *self, sluice_batch *batch);

    /* OPERATOR / SINK: the watermark advanced to `watermark` between records
     * (an upstream dropped records, time passed while idle, or the input
     * ended: SLUICE_TIME_MAX). Fire what is due. May be NULL.
     * An operator with much to emit at once (every open session at the end
     * of the input) may emit a chunk and return SLUICE_MORE: the host then
     * lets the chunk flow downstream and free its memory where it can, and
     * calls the hook again with the same watermark, until it returns
     * SLUICE_OK. Downstream steps have by then been told of the watermark,
     * so later chunks reach them as records at that watermark. */
    sluice_status (*watermark)(const sluice_host_api *api, sluice_ctx *ctx, void *self, int64_t watermark);

    /* Make everything emitted so far durable or visible (sinks write buffers,
     * may fsync). Called at checkpoints and once before destroy. May be NULL. */
    sluice_status (*flush)(const sluice_host_api *api, sluice_ctx *ctx, void *self);

    /* Write the instance's state into *out (data from api->alloc). May be NULL
     * for stateless plugins. */
    sluice_status (*snapshot)(const sluice_host_api *api, sluice_ctx *ctx, void *self, sluice_snapshot *out);

    /* Replace the instance's state with a snapshot (borrowed). Return
     * SLUICE_ERR_STATE with a log message for an encoding version it cannot
     * read. May be NULL. */
    sluice_status (*restore)(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                             const sluice_snapshot *in);

    /* A wall-clock timer asked for with api->timer_set() is due. `now_ms` is
     * the wall clock. May be NULL. */
    sluice_status (*timer)(const sluice_host_api *api, sluice_ctx *ctx, void *self, int64_t now_ms);

    /* SOURCE: everything derived from the messages pushed before checkpoint
     * `checkpoint_id` was begun is durable in every sink: commit positions up
     * to there (e.g. Kafka offsets). May be NULL. */
    sluice_status (*checkpoint_complete)(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                         uint64_t checkpoint_id);

    /* SOURCE: a checkpoint is being taken; remember the current positions
     * under `checkpoint_id`. May be NULL. */
    sluice_status (*checkpoint_begin)(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                      uint64_t checkpoint_id);

    void *reserved[8]; /* spare slots for later hooks; must be NULL (refused otherwise) */

    /* ABI 1.2. OPERATOR: what the instance's state is keyed by, so the
     * engine may run several instances side by side (tasks, on several
     * threads), each seeing every record of the keys it owns and none of
     * the others'. See sluice_state_key. An operator built against an older
     * header reads as SLUICE_STATE_KEY_UNDECLARED: one instance sees every
     * record, as before. Ignored for sources and sinks. */
    sluice_state_key state_key;

    /* ABI 1.3. The oldest engine this plugin can run in, as
     * SLUICE_ABI_VERSION_OF(1, minor): an engine older than that refuses to
     * load it (naming both versions) instead of loading it with the hooks and
     * host functions it relies on silently missing. 0 means any 1.x engine
     * (the plugin tests SLUICE_HOST_HAS for what it uses beyond 1.0). */
    uint32_t min_host_abi;

    /* ABI 1.3. Whether an instance keeps state from one record (or message)
     * to the next that a restart must not lose. A pipeline with `state_dir`
     * refuses a step whose plugin declares SLUICE_STATE_KEPT but lacks
     * snapshot or restore. Undeclared (older plugins): stateful when it has a
     * snapshot hook, as before. */
    sluice_state_decl state;

    /* ABI 1.3. Check the options beyond what the option table says (a Kafka
     * property the client library refuses, a rule across two options), with
     * the same options create() gets. Called by `sluice check` and before
     * every run, with no instance: it must have no side effects (no
     * connections, no files created). Report each problem with
     * api->option_error(ctx, "option", ...), which places it at the option's
     * file:line:column, and return SLUICE_ERR_CONFIG; return SLUICE_OK when
     * the options are fine. Only api->log, the opt_* functions,
     * api->option_error and api->step_name may be called. May be NULL. */
    sluice_status (*validate)(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts);

    /* ABI 1.5, SOURCE: partition tasks. When the pipeline says how the
     * source's input is keyed (`key: user_id` on the source step), the
     * engine runs its keyed steps in one task per input partition, and the
     * task's state belongs to that partition wherever it is read next, as in
     * Kafka Streams. These hooks make that possible; a source without them
     * cannot be keyed.
     *
     * partition_count: how many partitions the input has (a broker's
     * metadata), or -1 when it cannot tell. Called once, after create. */
    int32_t (*partition_count)(const sluice_host_api *api, sluice_ctx *ctx, void *self);

    /* partition_state_save: keep the state of `partition`'s task (data,
     * borrowed for the call) with the position checkpoint `checkpoint_id`
     * noted for it (checkpoint_begin), so that whichever instance is next
     * given the partition starts at that position with that state
     * (api->source_partition_state). Called between checkpoint_begin and
     * checkpoint_complete, only for partitions whose state changed since
     * their last save; the source keeps the last saved state of the others.
     * The state must be durable before checkpoint_complete commits the
     * position. */
    sluice_status (*partition_state_save)(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                          uint64_t checkpoint_id, int32_t partition, const void *data,
                                          size_t size);

    /* ABI 1.6, OPERATOR with state_key ALL: the operator is decomposable,
     * as an aggregation that Kafka Streams repartitions or Flink
     * pre-aggregates is. When the pipeline asks for it (`two_phase: true`)
     * and the engine runs keyed steps in tasks (`partitions` above 1, and no
     * `key:` on the source), it runs the step as one step per part instead
     * of one instance that sees every record:
     *  - each part but the last, "<step>/<name>", reads the step's inputs
     *    in tasks of its key, and its other outputs (rejected) are the
     *    step's: every consumer of "<step>.rejected" reads the first part's;
     *  - the last part (key ALL) keeps the step's name and main output, and
     *    reads the main output of every other part, merged in stream order
     *    (records of one position in the order the parts are listed).
     * An instance learns which part it is, and its task, from
     * api->step_part(); what the parts send the last one is ordinary
     * records, seen by no other step. Otherwise the step runs whole:
     * step_part() returns -1. At most 8 parts, NULL-name terminated; NULL:
     * the step always runs whole. docs/plugin-abi.md, "Operators in parts".
     *
     * ABI 1.7: the table may hold several layouts one after another, each
     * keyed parts ended by an ALL part. A layout whose keyed parts are
     * PARTITION is for partition tasks (`key:` on the source, with
     * `two_phase: true`): its parts read each input partition's records in
     * that partition's task, so they pre-aggregate per partition. The
     * other layout is for in-process tasks. The engine runs the first
     * layout that fits, and step_part() returns the index in the whole
     * table. */
    const sluice_part *parts;

    /* ABI 1.7, SOURCE with partition tasks: an exchange through the broker,
     * as Kafka Streams' repartition topics. When a step must see records of
     * every input partition (the last part of a PARTITION layout), its
     * instances run in one task per partition of a topic the source both
     * writes and reads in its group, so each is owned by exactly one
     * instance of the pipeline, with its state following it like an input
     * partition's.
     *
     * exchange_open: read `name`'s exchange too (the source names its
     * topic, e.g. "<group>.<name>.repartition", made where the broker
     * allows), from before the first poll. Returns how many partitions it
     * has (from the broker's metadata) and sets *first_partition: its
     * messages are pushed with partition ids first_partition.. on, assigned,
     * revoked and saved like input partitions, and have no event time. -1
     * (logged) when it cannot be opened. Called once, after partition_count.
     *
     * exchange_send: write one record to partition `partition` (0-based) of
     * the exchange; key and value are borrowed. Durable before
     * checkpoint_complete commits: an exchange write that fails makes the
     * checkpoint commit nothing. */
    int32_t (*exchange_open)(const sluice_host_api *api, sluice_ctx *ctx, void *self, const char *name,
                             int32_t *first_partition);
    sluice_status (*exchange_send)(const sluice_host_api *api, sluice_ctx *ctx, void *self, int32_t partition,
                                   const void *key, size_t key_len, const void *value, size_t value_len);

    /* ABI 1.8, SOURCE: what the engine may do around poll(), as
     * SLUICE_SOURCE_* bits. Bits this engine does not know are ignored. */
    uint32_t source_flags;
} sluice_plugin;

/* source_flags: poll() may be called for the next batch while the current
 * one is still being processed, from one of the engine's worker threads
 * (`threads:` above 1; never at the same time as another hook of the
 * instance): a prefetch that takes the source's reading off the pipeline's
 * thread. Such a poll must not call back into the run loop: no
 * source_partition_* and no source_checkpoint_now (the engine fails the
 * pipeline naming the call); what it lends is copied and released at once,
 * on that thread. Only source_push, log, alloc, free and now_ms are meant
 * for it. The engine polls ahead only when the current batch lent nothing,
 * and never across a checkpoint, a stop or a memory_limit pause. The
 * shipped file and clickgen sources declare it. */
#define SLUICE_SOURCE_POLL_AHEAD 1u

/* The entry function's type. */
typedef const sluice_plugin *(*sluice_plugin_entry_fn)(void);

/* ------------------------------------------------------------------------ */
/* Records                                                                   */

typedef enum sluice_type {
    SLUICE_TYPE_NONE = 0, /* field absent                                    */
    SLUICE_TYPE_NULL = 1,
    SLUICE_TYPE_BOOL = 2,
    SLUICE_TYPE_INT = 3, /* int64                                          */
    SLUICE_TYPE_DOUBLE = 4,
    SLUICE_TYPE_STRING = 5, /* UTF-8, not NUL-terminated: use the length      */
    SLUICE_TYPE_JSON = 6    /* nested object/array (or a number beyond int64), as JSON text */
} sluice_type;

/* The roles the engine's event decoder extracts from clickstream events
 * (field names are configured per source; docs/semantics.md section 1). */
typedef enum sluice_role {
    SLUICE_ROLE_USER = 0,     /* string; an integer user id as its decimal text */
    SLUICE_ROLE_URL = 1,      /* string                                         */
    SLUICE_ROLE_EVENT_ID = 2, /* string or integer as text; may be absent       */
    SLUICE_ROLE_COUNT_ = 3
} sluice_role;

/* A view of bytes owned by someone else (see each function). */
typedef struct sluice_str {
    const char *ptr;
    size_t len;
} sluice_str;

/* Dead-letter reasons shared by the engine and the shipped operators. A
 * third-party plugin may use its own reason: 1 to 63 characters of [a-z0-9_],
 * starting with a letter (it becomes the counter "rejected.<reason>"). The
 * host checks it: reject() with any other reason fails the pipeline as a
 * plugin bug. */
#define SLUICE_REASON_TOO_LARGE "too_large"
#define SLUICE_REASON_MALFORMED "malformed"
#define SLUICE_REASON_BAD_USER "bad_user"
#define SLUICE_REASON_BAD_URL "bad_url"
#define SLUICE_REASON_BAD_TS "bad_ts"
#define SLUICE_REASON_FUTURE_TS "future_ts"
#define SLUICE_REASON_DUPLICATE "duplicate"
#define SLUICE_REASON_TOO_LATE "too_late"

/* A message a source hands to the host. Without `release`, the host copies
 * what it keeps before source_push returns, so the bytes may be the source's
 * own buffers. */
typedef struct sluice_message {
    uint32_t struct_size;
    const void *payload; /* the raw event bytes (a JSON object for clicks)   */
    size_t payload_len;
    const char *origin; /* "topic/partition@offset" or "path:line"          */
    size_t origin_len;
    int32_t partition;    /* the stream it belongs to for watermarks (>= 0)   */
    int64_t timestamp_ms; /* transport timestamp (Kafka), or SLUICE_TIME_MIN  */
    const void *key;      /* transport key, or NULL                            */
    size_t key_len;
    /* ABI 1.1, zero copy. When set, and the host's abi_version is 1.1 or
     * later, the host keeps pointing at payload and key instead of copying
     * them: they must stay valid and unchanged until the host calls
     * release(release_arg). It does so exactly once per message (also when
     * source_push fails), on the pipeline's thread, when no record refers to
     * them any more: at the end of the tick, which is always before the
     * source's next poll() and before its destroy(). The origin is still
     * copied. A 1.0 host ignores these members and copies: check
     * api->abi_version >= SLUICE_ABI_VERSION_OF(1, 1) before lending. */
    void (*release)(void *release_arg);
    void *release_arg;
} sluice_message;

/* ------------------------------------------------------------------------ */
/* The host API table                                                        */

typedef enum sluice_log_level {
    SLUICE_LOG_ERROR = 0,
    SLUICE_LOG_WARN = 1,
    SLUICE_LOG_INFO = 2,
    SLUICE_LOG_DEBUG = 3
} sluice_log_level;

struct sluice_host_api {
    uint32_t struct_size; /* sizeof(sluice_host_api) in the engine             */
    uint32_t abi_version; /* the engine's SLUICE_ABI_VERSION                    */

    /* --- logging and memory ------------------------------------------- */
    /* printf-style; the host prefixes pipeline and step names. */
    void (*log)(sluice_ctx *ctx, sluice_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;
    /* For snapshot data. Never returns NULL: like every host function that
     * allocates (record_new, record_copy, set_*, emit, reject), when memory
     * runs out the engine stops the process with a message and exit code 4,
     * and a restart resumes from the last checkpoint (docs/plugin-abi.md). */
    void *(*alloc)(size_t size);
    void (*free)(void *ptr);

    /* --- options (validated; borrowed for the instance's lifetime) ----- */
    /* Each returns the configured value or the declared default. The string
     * and list items are NUL-terminated and live as long as the instance.
     * Asking for an undeclared name or with the wrong type returns the zero
     * value and logs an error. */
    const char *(*opt_string)(const sluice_options *opts, const char *name);
    int64_t (*opt_int)(const sluice_options *opts, const char *name);
    double (*opt_double)(const sluice_options *opts, const char *name);
    int (*opt_bool)(const sluice_options *opts, const char *name);
    int64_t (*opt_duration_ms)(const sluice_options *opts, const char *name); /* -1 = off */
    int (*opt_is_set)(const sluice_options *opts, const char *name);          /* given in the pipeline */
    size_t (*opt_count)(const sluice_options *opts, const char *name);        /* MAP / LIST entries */
    /* MAP: key and value of entry i; LIST: *key = NULL and *value = item i. */
    int (*opt_entry)(const sluice_options *opts, const char *name, size_t i, const char **key,
                     const char **value);

    /* --- the instance ---------------------------------------------------- */
    const char *(*step_name)(sluice_ctx *ctx); /* e.g. "dedup"; lives as long as ctx */

    /* --- batches ---------------------------------------------------------- */
    /* Next record of the batch, or NULL at its end. The record is borrowed
     * until process() returns. */
    const sluice_record *(*batch_next)(sluice_batch *batch);
    size_t (*batch_size)(const sluice_batch *batch);

    /* --- reading records (all views borrowed like the record) ----------- */
    sluice_type (*field_type)(const sluice_record *rec, const char *name);
    int (*field_string)(const sluice_record *rec, const char *name, sluice_str *out);
    int (*field_int)(const sluice_record *rec, const char *name, int64_t *out);
    int (*field_double)(const sluice_record *rec, const char *name, double *out); /* INT widens */
    int (*field_bool)(const sluice_record *rec, const char *name, int *out);
    /* Any field as JSON text (strings quoted and escaped). */
    int (*field_json)(const sluice_record *rec, const char *name, sluice_str *out);
    size_t (*field_count)(const sluice_record *rec);
    /* Name and type of field i, in the order the record holds them. */
    int (*field_at)(const sluice_record *rec, size_t i, sluice_str *name, sluice_type *type);

    /* Event time of a decoded event (ms), or SLUICE_TIME_MIN when it has none. */
    int64_t (*record_time)(const sluice_record *rec);
    /* The watermark in force after this record (see process()). */
    int64_t (*record_watermark)(const sluice_record *rec);
    /* A decoded event's role value and its 64-bit hash (computed once at
     * decode, the same for equal bytes, and the same in every process and
     * engine version of ABI major 1, so it may be kept in snapshots).
     * Returns 0 when the role is absent. */
    int (*record_role)(const sluice_record *rec, sluice_role role, sluice_str *out, uint64_t *hash);
    /* The record as it arrived: raw message bytes, and origin. Empty for
     * records made by operators. */
    sluice_str (*record_raw)(const sluice_record *rec);
    sluice_str (*record_origin)(const sluice_record *rec);

    /* The whole record as one JSON object (no newline): the original bytes when
     * the record passes through unchanged, else its fields in order. The text
     * is borrowed until the current hook call returns. Returns 1: it cannot
     * fail, and out->ptr is never NULL. */
    int (*record_json)(const sluice_record *rec, sluice_str *out);
    /* The key set with set_key, or an empty view. */
    sluice_str (*record_key)(const sluice_record *rec);

    /* --- making records (owned by the host; emit them in this call) ----- */
    sluice_record *(*record_new)(sluice_ctx *ctx);
    /* Setters copy name and value. Setting an existing name replaces it. */
    void (*set_string)(sluice_record *rec, const char *name, const char *ptr, size_t len);
    void (*set_int)(sluice_record *rec, const char *name, int64_t value);
    void (*set_double)(sluice_record *rec, const char *name, double value);
    void (*set_bool)(sluice_record *rec, const char *name, int value);
    void (*set_null)(sluice_record *rec, const char *name);
    /* Nested JSON (object or array) given as text; the host trusts it is valid. */
    void (*set_json)(sluice_record *rec, const char *name, const char *json, size_t len);
    /* Kafka sinks use it as the message key (docs/semantics.md gives one per kind). */
    void (*set_key)(sluice_record *rec, const char *ptr, size_t len);

    /* --- emitting ----------------------------------------------------------- */
    /* Send a record to an output: "main" (or NULL) or one of the descriptor's
     * `outputs`. `rec` is either one this instance made with record_new, or a
     * record it received in the current process() call (passed on as is). */
    sluice_status (*emit)(sluice_ctx *ctx, const char *output, const sluice_record *rec);
    /* Reject a received record: counts `reason` and sends a dead-letter record
     * {reason, detail, origin, raw} to the "rejected" output if the step has
     * one and something consumes it. `detail` may be NULL. */
    sluice_status (*reject)(sluice_ctx *ctx, const sluice_record *rec, const char *reason,
                            const char *detail);

    /* --- sources ---------------------------------------------------------- */
    /* Hand one message to the host (copied before return). */
    sluice_status (*source_push)(sluice_ctx *ctx, const sluice_message *msg);
    /* A partition is no longer this instance's (rebalance): its watermark
     * stops counting. */
    void (*source_partition_revoked)(sluice_ctx *ctx, int32_t partition);
    /* A partition ended (stop at end): it no longer holds the watermark back. */
    void (*source_partition_ended)(sluice_ctx *ctx, int32_t partition);

    /* --- time ---------------------------------------------------------------- */
    int64_t (*now_ms)(sluice_ctx *ctx); /* wall clock, ms since the epoch */
    /* Ask for the timer hook at (or soon after) wall-clock due_ms. One pending
     * timer per instance; a new call replaces it. */
    void (*timer_set)(sluice_ctx *ctx, int64_t due_ms);
    int64_t (*current_watermark)(sluice_ctx *ctx); /* of the record being processed */

    /* --- counters --------------------------------------------------------- */
    /* A named counter of this instance, created on first use, reported with the
     * engine's own (events in/out, rejections per reason). */
    sluice_counter *(*counter)(sluice_ctx *ctx, const char *name);
    void (*counter_add)(sluice_counter *counter, int64_t delta);
    void (*counter_set)(sluice_counter *counter, int64_t value); /* a gauge, e.g. state size */

    /* --- failure ------------------------------------------------------------- */
    /* A failure the pipeline cannot continue past (e.g. a delivery that failed
     * for good): the host logs it, stops the pipeline and exits non-zero. */
    void (*fail)(sluice_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;

    /* Sinks with asynchronous delivery: everything handed to this sink before
     * checkpoint `checkpoint_id` was begun is durable. Synchronous sinks do not
     * call it: a successful flush() is the acknowledgement. */
    void (*sink_ack)(sluice_ctx *ctx, uint64_t checkpoint_id);
    /* Declare this sink asynchronous (call in create): checkpoints then wait
     * for sink_ack instead of flush(). */
    void (*sink_set_async)(sluice_ctx *ctx);

    /* A mutable copy of a received record (fields, raw bytes, origin, event
     * time and roles), to change a few fields and pass the rest on untouched.
     * Owned by the host like record_new's; emit it in this call. */
    sluice_record *(*record_copy)(sluice_ctx *ctx, const sluice_record *rec);

    /* The bootstrap servers ("127.0.0.1:port") of the process-wide embedded
     * development broker (librdkafka's mock cluster), started on first call;
     * what `brokers: embedded` means. NULL with a message in err on failure.
     * The string lives as long as the process. */
    const char *(*embedded_kafka)(sluice_ctx *ctx, char *err, size_t errsz);

    /* The record k places ahead in the batch without moving on (k = 0: the
     * one batch_next returns next), or NULL past the end. For operators that
     * look a few records ahead to prefetch their state. Borrowed like
     * batch_next's records. */
    const sluice_record *(*batch_peek)(const sluice_batch *batch, size_t k);

    /* A partition is now this instance's (assignment). Until its first
     * message it holds the watermark back, as an unread partition may hold
     * older events, until it ends, is revoked or stays silent for the
     * source's idle_timeout. Sources that cannot know their partitions in
     * advance need not call it: a partition then counts from its first
     * message. */
    void (*source_partition_assigned)(sluice_ctx *ctx, int32_t partition);

    /* ABI 1.3, for the validate hook: report a problem with the option
     * `option` ("brokers"), or with one entry of a MAP option written as
     * "option.key" ("config.acks"), at its file:line:column in the pipeline
     * file (the step's position when it is not there, or when option is
     * NULL). printf-style; call it once per problem. */
    void (*option_error)(sluice_ctx *ctx, const char *option, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;

    /* ABI 1.4. The counters of another step of this pipeline, summed over
     * its tasks: fn(ud, name, value) for each whose name starts with
     * `prefix` ("" for all). `step` NULL means the pipeline's source (e.g.
     * a sink showing the Kafka source's consumer lag, kafka.lag.<topic>/<p>,
     * docs/metrics.md). Only from a step that runs once, outside the keyed
     * stages (any sink): a task's hooks get no calls, as other tasks may be
     * counting at the same moment. For the same reason a process hook that
     * runs while a later stage's tasks do (docs/pipelines.md) gets no calls
     * for a step in the stages; a timer hook always does. The name is
     * borrowed for the call. */
    void (*step_counters)(sluice_ctx *ctx, const char *step, const char *prefix,
                          void (*fn)(void *ud, const char *name, int64_t value), void *ud);

    /* ABI 1.5, partition tasks (see sluice_plugin.partition_count). A
     * partition was assigned: hand over its task's state as of the position
     * it starts at, before its first message, from source_partition_assigned
     * on. data NULL and size 0: it has none (a new partition, or no
     * checkpoint yet). `error` non-NULL: the state the committed position
     * points at cannot be read (deleted, corrupt): data loss, which the
     * engine reports and fails on unless told to start such state empty.
     * Returns SLUICE_OK, or an error after which the source must stop. */
    sluice_status (*source_partition_state)(sluice_ctx *ctx, int32_t partition, const void *data, size_t size,
                                            const char *error);
    /* ABI 1.5. Take a checkpoint now and complete it before returning:
     * everything pushed so far is processed, every sink flushed and
     * acknowledged, partition states saved, and checkpoint_complete called
     * (the source commits). For a rebalance: called from inside poll() before
     * partitions are given up, so their next owner replays nothing. */
    sluice_status (*source_checkpoint_now)(sluice_ctx *ctx);

    /* ABI 1.6. Which part of a decomposable operator this instance runs
     * (its index in sluice_plugin.parts), or -1 when the step runs whole;
     * and its task and the number of tasks of its stage (0 and 1 outside
     * the stages). Either pointer may be NULL. */
    int32_t (*step_part)(sluice_ctx *ctx, uint32_t *task, uint32_t *ntasks);

    /* ABI 1.6. The watermark to judge a decoded event's lateness by. With
     * partition tasks (`key:` on the source) it is the watermark of the
     * event's input partition after it, which the steps in the tasks see as
     * record_watermark: a step outside the tasks that judges lateness by it
     * rejects the same events they do, however many instances share the
     * partitions (url_count does; it still fires windows by
     * record_watermark). Otherwise, and for records that are not decoded
     * events, it is record_watermark(rec). */
    int64_t (*record_lateness_watermark)(sluice_ctx *ctx, const sluice_record *rec);

    /* ABI 1.7, a source with an exchange (sluice_plugin.exchange_open) and
     * stop_at_end: its input partitions are all read to their end. The
     * engine then takes the input as ended (its watermark to +infinity) and
     * returns 1 while partitions of the exchange assigned here still wait
     * for other tasks' last records: poll on, and end once it returns 0. */
    int (*source_exchange_pending)(sluice_ctx *ctx);

    /* New members are only ever added here, at the end. */
};

/* Is host function `member` present in the engine this plugin runs in? */
#define SLUICE_HOST_HAS(api, member) \
    ((api)->struct_size >= offsetof(sluice_host_api, member) + sizeof((api)->member) && (api)->member != NULL)

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_PLUGIN_H */
