/* Finding, loading and vetting plugin shared objects. A plugin is refused,
 * with a message naming its file and the reason, when its entry symbol is
 * missing, its ABI major differs, or its descriptor is malformed. */
#ifndef SLUICE_PLUGIN_LOADER_H
#define SLUICE_PLUGIN_LOADER_H

#include <stddef.h>

#include "sluice/plugin.h"

typedef struct loaded_plugin {
    char *path;   /* the file it was loaded from (owned) */
    void *handle; /* dlopen handle */
    /* The descriptor, copied into a full-size struct: members past the
     * plugin's own struct_size read as NULL / zero. */
    sluice_plugin desc;
    const char *const *outputs; /* desc.outputs or an empty list */
} loaded_plugin;

/* The ordered folders plugins are looked up in. */
typedef struct plugin_path {
    char **dirs;
    size_t count;
} plugin_path;

/* Pipeline folders first, then $SLUICE_PLUGIN_PATH (':'-separated), then
 * <exe>/plugins when the executable runs from a build tree (a CMakeCache.txt
 * beside it), else the install's plugin folder relative to the executable
 * (<exe>/../lib/sluice/plugins). No absolute path is compiled in. */
void plugin_path_init(plugin_path *pp, char *const *pipeline_dirs, size_t n);
void plugin_path_free(plugin_path *pp);
/* The folder of the running executable; -1 when it cannot be known. */
int plugin_exe_dir(char *out, size_t size);

/* Load a plugin file (refcounted: loading the same file twice returns the
 * same plugin). On failure returns NULL with the reason in err. */
const loaded_plugin *plugin_load_file(const char *path, char *err, size_t errsz);

/* A descriptor linked into the program (tests, built-in plugins), vetted as
 * a loaded file's is; owned by the caller (plugin_descriptor_free), not in
 * the registry. NULL with the reason in err when it is refused. */
loaded_plugin *plugin_from_descriptor(const sluice_plugin *desc, char *err, size_t errsz);
void plugin_descriptor_free(loaded_plugin *p);

/* Find the plugin `name` of one of `kinds` (a bit per sluice_kind: 1 << kind)
 * on the path: files named <kind>-<name>.so. Returns NULL with a message in err
 * (including a "did you mean" suggestion) when none is found or it is refused. */
const loaded_plugin *plugin_find(const plugin_path *pp, const char *name, unsigned kinds, char *err,
                                 size_t errsz);

/* Call fn for every plugin file on the path (first occurrence of each name
 * wins), loaded or with the reason it was refused. */
typedef void (*plugin_visit_fn)(void *ud, const char *path, const loaded_plugin *p, const char *err);
void plugin_scan(const plugin_path *pp, plugin_visit_fn fn, void *ud);

const char *plugin_kind_name(sluice_kind kind);

/* Unload everything (at exit; plugin instances must be destroyed first). */
void plugin_unload_all(void);

#endif
