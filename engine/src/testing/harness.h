/* The test driver's insides (sluice/testing.h is its public face): one step
 * of a one-step pipeline built from the engine's own structures, so the host
 * API table works on it unchanged, with the wall clock replaced by the
 * test's. */
#ifndef SLUICE_HARNESS_H
#define SLUICE_HARNESS_H

#include "pipeline.h"
#include "sluice/testing.h"

/* What one output collected: each record's JSON text, and for each the
 * strings sluice_harness_field handed out (freed with the output). */
typedef struct harness_output {
    char *name;
    char **records;
    char **keys;   /* each record's key (set_key), or NULL */
    void **parsed; /* json_t *, made on first field lookup */
    size_t n, cap;
    char **strings;
    size_t nstrings;
} harness_output;

struct sluice_harness {
    pipeline p; /* first: the host API's ctx->p leads back to the harness */
    pipeline_def def;
    step_def sdef;
    step s;
    const loaded_plugin *plugin;
    loaded_plugin *owned; /* a vetted descriptor, not in the loader's registry */
    cfg_node *opts_root;  /* the options as given (a map), or NULL */
    sluice_host_api api;  /* the engine's table, with the test's clock */
    int started;
    int part;              /* 1 + the part of the plugin's parts it runs (sluice_harness_part); 0 whole */
    uint32_t task, ntasks; /* of that part */
    int64_t clock;
    int64_t wm;
    int auto_wm;
    wm_tracker tracker;
    event_config events;
    item_vec pending; /* pushed, not yet delivered */
    uint64_t next_seq;
    harness_output *outs;
    size_t nouts;
    char *text;  /* sluice_harness_output_text's last answer */
    char *error; /* a test author's mistake (not a plugin failure) */
    char name[64];
};

/* Take what the step's ports queued into the outputs. */
void harness_capture(sluice_harness *h);
void harness_outputs_free(sluice_harness *h);

#endif
