/* A pipeline file, parsed: the YAML as written (after ${VAR} interpolation),
 * every node with its position, before any plugin is loaded. */
#ifndef SLUICE_PIPELINE_DEF_H
#define SLUICE_PIPELINE_DEF_H

#include <stdint.h>

#include "diag.h"
#include "interpolate.h"

typedef enum cfg_kind { CFG_SCALAR = 1, CFG_MAP = 2, CFG_LIST = 3 } cfg_kind;

/* A YAML node. Maps keep their keys in file order. */
typedef struct cfg_node {
    cfg_kind kind;
    src_pos pos;
    char *scalar;            /* CFG_SCALAR: the interpolated text (owned)          */
    int quoted;              /* CFG_SCALAR: was written quoted ("..." or '...')    */
    char *written;           /* CFG_SCALAR: the text as written when interpolation
                                changed it, for messages (owned), else NULL       */
    size_t count;            /* CFG_MAP / CFG_LIST: number of entries              */
    char **keys;             /* CFG_MAP: keys (owned)                               */
    src_pos *key_pos;        /* CFG_MAP: position of each key                       */
    struct cfg_node **items; /* CFG_MAP: values; CFG_LIST: items (owned)          */
} cfg_node;

/* Look up a key in a map node; NULL when absent or when node is not a map. */
const cfg_node *cfg_map_get(const cfg_node *map, const char *key);
/* "a scalar", "a map" or "a list", for messages. */
const char *cfg_kind_name(cfg_kind kind);

/* One input of a step: "step" or "step.output". */
typedef struct input_ref {
    char *step;   /* owned */
    char *output; /* owned; "main" when not given */
    src_pos pos;
} input_ref;

typedef struct step_def {
    char *name;   /* owned; unique in the pipeline */
    src_pos pos;  /* of the step's map */
    char *plugin; /* owned: a plugin name, or a path to a .so when it contains '/' */
    src_pos plugin_pos;
    input_ref *inputs; /* none for the source */
    size_t ninputs;
    const cfg_node *options; /* the `options:` map, or NULL (points into the tree) */
    const cfg_node *event;   /* source only: the `event:` node, or NULL */
    const cfg_node *key;     /* source only: `key:`, the field its input is partitioned by, or NULL */
} step_def;

typedef struct pipeline_def {
    char *path;         /* owned: the file as given */
    char *name;         /* owned: `name:`, else the file's base name without .yaml */
    char **plugin_path; /* owned: `plugin_path:` entries, resolved relative to the file */
    size_t nplugin_path;
    int64_t batch_size;             /* `batch_size:`, default 4096, >= 1 */
    char *state_dir;                /* `state_dir:`: where state checkpoints go; NULL = none */
    int64_t checkpoint_interval_ms; /* `checkpoint_interval:`, default 5s */
    int64_t partitions;             /* `partitions:`: tasks the keyed steps run in, default 8 */
    int64_t threads;                /* `threads:`: worker threads, 0 = one per core (at most one per task) */
    int two_phase; /* `two_phase:`: decomposable operators run in parts (plugin.h, sluice_plugin.parts);
                    * -1 when not said */
    int64_t memory_limit; /* `memory_limit:` bytes of operator state before the source pauses; 0 none */
    char *metrics_listen; /* `metrics: {listen: ADDR}`: serve /metrics there; NULL = not asked */
    src_pos metrics_listen_pos;
    step_def *steps;
    size_t nsteps;
    cfg_node *root; /* owned: the whole document */
} pipeline_def;

/* Parse and interpolate a pipeline file. Structural errors (YAML syntax,
 * unknown keys, missing required keys, bad `${VAR}`, duplicate step names)
 * go to diags. Returns the def (possibly partial) or NULL when nothing could
 * be read; the caller checks diags->count.
 *
 * Notes: positions (in diags and in the tree) name the file with a copy of
 * `path` kept for the life of the process, so diagnostics stay printable
 * after the def is freed. A step with errors in its name or plugin is left
 * out of def->steps. Anchors, aliases and `<<` merge keys are supported
 * (aliases are expanded into copies). */
pipeline_def *pipeline_def_load(const char *path, diag_list *diags);
/* The same with variables taken from `lookup` instead of the environment. */
pipeline_def *pipeline_def_load_with(const char *path, interp_lookup_fn lookup, void *ud, diag_list *diags);
void pipeline_def_free(pipeline_def *def);

#endif
