/*
 * sluice/testing.h - a test driver for one Sluice plugin (libsluice-testing).
 *
 * It loads a plugin (.so, or a descriptor linked into the test), creates an
 * instance with options validated as a pipeline's are, and lets a test push
 * records, move the watermark and the wall clock by hand, take a snapshot
 * and restore it into a fresh instance, and read what came out: each
 * output's records, dead letters and counters. It runs the engine's own code
 * (records, the host API table, option validation, the plugin loader), so a
 * plugin behaves as under `sluice run`; only time and delivery are the
 * test's. Deterministic: no threads, no real clock.
 *
 *     sluice_harness *h = sluice_harness_new("build/operator-drop_bots.so", err, sizeof err);
 *     sluice_harness_options(h, "{agents: [bot]}");
 *     if (sluice_harness_start(h) != 0) fail(sluice_harness_error(h));
 *     sluice_harness_push(h, "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":1000,\"agent\":\"bot\"}");
 *     assert(sluice_harness_count(h, "main") == 0);
 *     assert(sluice_harness_counter(h, "dropped") == 1);
 *     sluice_harness_free(h);
 *
 * Delivery: pushed records wait in a batch; the batch is handed to the
 * plugin's process() (split at watermark moves, as the engine does) by
 * sluice_harness_run, and before anything else that calls the plugin or
 * reads its output. So a test that pushes three records and reads the output
 * has delivered them as one batch of three.
 *
 * Functions returning int return 0 on success, -1 on failure (a hook
 * returned an error, the plugin called api->fail, bad options): the reason
 * is in sluice_harness_error(). After a failure the harness refuses further
 * calls, as the engine stops a failed pipeline.
 *
 * Link with -lsluice-testing (pkg-config sluice-testing; CMake target
 * Sluice::testing). Not thread safe: one harness per thread.
 */
#ifndef SLUICE_TESTING_H
#define SLUICE_TESTING_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SLUICE_TESTING_API __attribute__((visibility("default")))
#else
#define SLUICE_TESTING_API
#endif

typedef struct sluice_harness sluice_harness;

/* ---- setting up ------------------------------------------------------- */

/* Load the plugin file (as `plugin: path/to/x.so` would) or vet a
 * descriptor linked into the test (as the loader vets a file's). NULL with
 * the reason in err when the plugin is refused. */
SLUICE_TESTING_API sluice_harness *sluice_harness_new(const char *plugin_path, char *err, size_t errsz);
SLUICE_TESTING_API sluice_harness *sluice_harness_new_descriptor(const sluice_plugin *desc, char *err,
                                                                 size_t errsz);

/* The step's options as YAML or JSON text ("{ttl: 1h, emit_rejected: true}"
 * or "{\"ttl\": \"1h\"}"), as a pipeline's `options:` map; later calls
 * replace what they name. -1 on a syntax error. */
SLUICE_TESTING_API int sluice_harness_options(sluice_harness *h, const char *yaml);
/* One option, its value as YAML scalar text ("1h", "true", "10"). */
SLUICE_TESTING_API int sluice_harness_option(sluice_harness *h, const char *name, const char *value);

/* The step's name (default "step"), as api->step_name returns it. */
SLUICE_TESTING_API void sluice_harness_step_name(sluice_harness *h, const char *name);

/* Run the instance as one part of a decomposable operator (plugin.h,
 * sluice_plugin.parts), as task `task` of `ntasks`: api->step_part answers
 * so. Before sluice_harness_start; -1 for a part the plugin does not have. */
SLUICE_TESTING_API int sluice_harness_part(sluice_harness *h, const char *part, uint32_t task,
                                           uint32_t ntasks);

/* Validate the options against the plugin's option table and its validate
 * hook, then create the instance. -1 with every problem in the error text,
 * one "<options>: error: step 'step': ..." line each. */
SLUICE_TESTING_API int sluice_harness_start(sluice_harness *h);

/* Flush and destroy the instance (if any), and free everything. */
SLUICE_TESTING_API void sluice_harness_free(sluice_harness *h);

/* ---- input and time --------------------------------------------------- */

/* Push one record, JSON object text. A click event (user_id, url, ts: the
 * engine's default field names) is decoded as a source decodes it: fields,
 * event time, and the user, URL and event id roles. Any other JSON object
 * becomes a record with its fields and no event time. The record is stamped
 * with the current watermark (or, after sluice_harness_max_out_of_order,
 * with the watermark after it as a source would compute it). Its origin is
 * "push:N", N counting from 1. */
SLUICE_TESTING_API int sluice_harness_push(sluice_harness *h, const char *json);
/* The same with the event time and the watermark in force after the record
 * given (SLUICE_TIME_MIN keeps the decoded time / the current watermark). */
SLUICE_TESTING_API int sluice_harness_push_at(sluice_harness *h, const char *json, int64_t event_time,
                                              int64_t watermark);
/* From now on stamp each pushed record with max(event time seen) - ms, the
 * watermark a single-partition source computes (`event: max_out_of_order`).
 * For a source, what sluice_harness_poll reads is watermarked the same way
 * (0 ms out of order until this is called). */
SLUICE_TESTING_API void sluice_harness_max_out_of_order(sluice_harness *h, int64_t ms);

/* Hand the waiting batch to the plugin. */
SLUICE_TESTING_API int sluice_harness_run(sluice_harness *h);

/* Move the watermark to wm (never back): after the waiting records, the
 * plugin's watermark hook is called (again while it returns SLUICE_MORE). */
SLUICE_TESTING_API int sluice_harness_watermark(sluice_harness *h, int64_t wm);
SLUICE_TESTING_API int64_t sluice_harness_current_watermark(const sluice_harness *h);

/* The end of the input: the watermark to SLUICE_TIME_MAX (every window and
 * session is emitted), then flush. */
SLUICE_TESTING_API int sluice_harness_end(sluice_harness *h);

/* The wall clock api->now_ms returns (ms since the epoch; starts at 0).
 * Setting or advancing it fires the plugin's timer hook when the timer it
 * asked for with api->timer_set is due. */
SLUICE_TESTING_API int sluice_harness_set_clock(sluice_harness *h, int64_t now_ms);
SLUICE_TESTING_API int sluice_harness_advance_clock(sluice_harness *h, int64_t ms);
/* The due time the plugin asked for, or 0 when no timer is pending. */
SLUICE_TESTING_API int64_t sluice_harness_timer_due(const sluice_harness *h);

/* A restart from a checkpoint: snapshot the instance, flush and destroy it,
 * create a fresh one with the same options and restore the snapshot into it
 * (a stateless plugin simply starts afresh). The outputs collected so far
 * are kept (a sink downstream has them); the counters start again at zero,
 * as in a restarted process (checkpoints do not keep them). -1 when the
 * plugin fails or refuses its own snapshot. */
SLUICE_TESTING_API int sluice_harness_restart(sluice_harness *h);
/* The instance's state, as a checkpoint would take it: the snapshot hook's
 * output into *out (free out->data with free()). For keeping a snapshot
 * written by this version as a test fixture, or damaging one on purpose.
 * -1 when the plugin has no snapshot and restore hooks or fails. */
SLUICE_TESTING_API int sluice_harness_snapshot(sluice_harness *h, sluice_snapshot *out);
/* A restart from the given snapshot instead of the instance's own: flush
 * and destroy the instance, create a fresh one with the same options and
 * restore snap into it (counters start at zero, outputs are kept). -1 when
 * the plugin refuses it (as `sluice run` would stop), with the reason in
 * sluice_harness_error. snap stays the caller's. */
SLUICE_TESTING_API int sluice_harness_restore(sluice_harness *h, const sluice_snapshot *snap);
/* Call the source's poll hook once (sources only): what it pushes is
 * decoded as the engine decodes a source's messages. Returns the hook's
 * status (SLUICE_OK, SLUICE_END) or -1. */
SLUICE_TESTING_API int sluice_harness_poll(sluice_harness *h, size_t budget);

/* ---- output ------------------------------------------------------------ */

/* Records emitted so far to `output` ("main", NULL for main, or a declared
 * output such as "rejected"; a sink has none). Dead letters reach
 * "rejected" when the plugin declares it; their fields are reason, detail,
 * origin and raw. Rejections are counted either way ("rejected.<reason>"). */
SLUICE_TESTING_API size_t sluice_harness_count(sluice_harness *h, const char *output);
/* Record i of output as JSON text (as a file sink would write it), or NULL.
 * Lives until sluice_harness_clear or sluice_harness_free. */
SLUICE_TESTING_API const char *sluice_harness_record(sluice_harness *h, const char *output, size_t i);
/* The key record i was given (api->set_key: a Kafka sink's message key),
 * or NULL when it has none. Lives like the record. */
SLUICE_TESTING_API const char *sluice_harness_key(sluice_harness *h, const char *output, size_t i);
/* A top-level field of record i: a string's value, anything else as JSON
 * text ("42", "true", "[1,2]"); NULL when absent. Lives like the record. */
SLUICE_TESTING_API const char *sluice_harness_field(sluice_harness *h, const char *output, size_t i,
                                                    const char *field);
/* Every record of output, one JSON line each ("" when none); lives until
 * the next call of this function on h, or clear / free. */
SLUICE_TESTING_API const char *sluice_harness_output_text(sluice_harness *h, const char *output);
/* Forget the records collected so far (counters stay). */
SLUICE_TESTING_API void sluice_harness_clear(sluice_harness *h);

/* A counter of the instance: the engine's ("in", "out", "rejected.<reason>",
 * a source's "read" and "accepted") or the plugin's own; 0 when it does not
 * exist. */
SLUICE_TESTING_API int64_t sluice_harness_counter(sluice_harness *h, const char *name);

/* What went wrong, or "" when nothing did. */
SLUICE_TESTING_API const char *sluice_harness_error(const sluice_harness *h);

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_TESTING_H */
