#include "plugin_loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "suggest.h"
#include "xalloc.h"

/* The install's plugin folder relative to the folder of the installed
 * executable (bin/ -> lib/sluice/plugins), so an installed engine finds its
 * own plugins wherever the prefix was put. */
#ifndef SLUICE_PLUGIN_DIR_FROM_BIN
#define SLUICE_PLUGIN_DIR_FROM_BIN "../lib/sluice/plugins"
#endif

/* The smallest descriptor of ABI 1.0: everything up to the reserved slots. */
#define PLUGIN_MIN_SIZE offsetof(sluice_plugin, reserved)
/* The smallest option spec: name, type, default, required and doc. */
#define OPTION_SPEC_MIN_SIZE (offsetof(sluice_option_spec, doc) + sizeof(const char *))

static const char *const no_outputs[] = {NULL};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static loaded_plugin **registry;
static size_t registry_count;

const char *plugin_kind_name(sluice_kind kind)
{
    switch (kind) {
    case SLUICE_KIND_SOURCE:
        return "source";
    case SLUICE_KIND_OPERATOR:
        return "operator";
    case SLUICE_KIND_SINK:
        return "sink";
    }
    return "unknown";
}

static void add_dir(plugin_path *pp, const char *dir)
{
    if (dir == NULL || dir[0] == '\0')
        return;
    for (size_t i = 0; i < pp->count; i++)
        if (strcmp(pp->dirs[i], dir) == 0)
            return;
    pp->dirs = xrealloc(pp->dirs, (pp->count + 1) * sizeof *pp->dirs);
    pp->dirs[pp->count++] = xstrdup(dir);
}

int plugin_exe_dir(char *out, size_t size)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return -1;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL || (size_t)(slash - exe) >= size)
        return -1;
    *slash = '\0';
    snprintf(out, size, "%s", exe);
    return 0;
}

void plugin_path_init(plugin_path *pp, char *const *pipeline_dirs, size_t n)
{
    pp->dirs = NULL;
    pp->count = 0;
    for (size_t i = 0; i < n; i++)
        add_dir(pp, pipeline_dirs[i]);
    const char *env = getenv("SLUICE_PLUGIN_PATH");
    if (env) {
        char *copy = xstrdup(env), *save = NULL;
        for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save))
            add_dir(pp, tok);
        free(copy);
    }
    char exe_dir[PATH_MAX];
    if (plugin_exe_dir(exe_dir, sizeof exe_dir) == 0) {
        char dir[PATH_MAX + 64];
        /* Run from a build tree (its CMakeCache.txt beside the binary): the
         * plugins that build placed there. Installed: the install's, found
         * from the executable. Never a build tree it was not run from. */
        snprintf(dir, sizeof dir, "%s/CMakeCache.txt", exe_dir);
        if (access(dir, F_OK) == 0) {
            snprintf(dir, sizeof dir, "%s/plugins", exe_dir);
            add_dir(pp, dir);
        } else {
            snprintf(dir, sizeof dir, "%s/%s", exe_dir, SLUICE_PLUGIN_DIR_FROM_BIN);
            char real[PATH_MAX];
            add_dir(pp, realpath(dir, real) ? real : dir);
        }
    }
}

void plugin_path_free(plugin_path *pp)
{
    for (size_t i = 0; i < pp->count; i++)
        free(pp->dirs[i]);
    free(pp->dirs);
    pp->dirs = NULL;
    pp->count = 0;
}

static int valid_name(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

/* Check the descriptor as the plugin built it; fills err and returns -1 when
 * it cannot be used. */
/* A decomposable operator's parts (ABI 1.6): 2 to 8 named parts in one or
 * more layouts (ABI 1.7), each keyed parts ended by an ALL part that
 * merges them; a layout's keyed parts are all PARTITION or none is
 * (plugin.h, sluice_plugin.parts). */
static int vet_parts(const sluice_plugin *out, char *err, size_t errsz)
{
    if (out->parts == NULL)
        return 0;
    if (out->kind != SLUICE_KIND_OPERATOR ||
        (out->state_key != SLUICE_STATE_KEY_ALL && out->state_key != SLUICE_STATE_KEY_UNDECLARED)) {
        snprintf(err, errsz, "malformed descriptor: '%s' has parts but is not an operator keyed by ALL",
                 out->name);
        return -1;
    }
    size_t n = 0;
    while (n < 9 && out->parts[n].name != NULL)
        n++;
    if (n < 2 || n > 8) {
        snprintf(err, errsz, "malformed descriptor: '%s' has %s parts (2 to 8, NULL-name terminated)",
                 out->name,
                 n > 8 ? "more than 8"
                 : n   ? "1"
                       : "no");
        return -1;
    }
    size_t in_layout = 0, by_partition = 0;
    for (size_t k = 0; k < n; k++) {
        sluice_state_key key = out->parts[k].key;
        int keyed = key == SLUICE_STATE_KEY_USER || key == SLUICE_STATE_KEY_EVENT ||
                    key == SLUICE_STATE_KEY_URL || key == SLUICE_STATE_KEY_PARTITION;
        int fits =
            key == SLUICE_STATE_KEY_ALL
                ? in_layout > 0
                : keyed && (in_layout == 0 || (key == SLUICE_STATE_KEY_PARTITION) == (by_partition > 0));
        if (!valid_name(out->parts[k].name) || !fits || (k + 1 == n && key != SLUICE_STATE_KEY_ALL)) {
            snprintf(err, errsz,
                     "malformed descriptor: '%s' part %zu ('%s', key %d): parts are named [a-z0-9_]+ and "
                     "come in layouts: parts keyed by USER, EVENT or URL, or parts keyed by PARTITION, then "
                     "one keyed by ALL that merges them",
                     out->name, k, out->parts[k].name, (int)key);
            return -1;
        }
        if (key == SLUICE_STATE_KEY_ALL) {
            in_layout = by_partition = 0;
        } else {
            in_layout++;
            by_partition += key == SLUICE_STATE_KEY_PARTITION;
        }
    }
    return 0;
}

static int vet_descriptor(const sluice_plugin *raw, sluice_plugin *out, char *err, size_t errsz)
{
    uint32_t size = raw->struct_size;
    uint32_t major = raw->abi_version >> 16, minor = raw->abi_version & 0xffff;
    if (major != SLUICE_ABI_MAJOR) {
        snprintf(err, errsz, "built for plugin ABI %u.%u, this engine speaks ABI %d.x", major, minor,
                 SLUICE_ABI_MAJOR);
        return -1;
    }
    if (size < PLUGIN_MIN_SIZE) {
        snprintf(err, errsz, "malformed descriptor: struct_size %u is smaller than the %zu bytes of ABI 1.0",
                 size, (size_t)PLUGIN_MIN_SIZE);
        return -1;
    }
    memset(out, 0, sizeof *out);
    memcpy(out, raw, size < sizeof *out ? size : sizeof *out);
    out->struct_size = sizeof *out;
    if (out->min_host_abi > SLUICE_ABI_VERSION) {
        snprintf(err, errsz,
                 "plugin '%s' needs a sluice engine of plugin ABI %u.%u or later, this engine speaks ABI "
                 "%d.%d: upgrade sluice or use a build of the plugin for ABI %d.%d",
                 valid_name(out->name) ? out->name : "?", out->min_host_abi >> 16, out->min_host_abi & 0xffff,
                 SLUICE_ABI_MAJOR, SLUICE_ABI_MINOR, SLUICE_ABI_MAJOR, SLUICE_ABI_MINOR);
        return -1;
    }
    if (out->min_host_abi != 0 && out->min_host_abi >> 16 != SLUICE_ABI_MAJOR) {
        snprintf(err, errsz, "malformed descriptor: min_host_abi %u.%u is not of ABI major %d",
                 out->min_host_abi >> 16, out->min_host_abi & 0xffff, SLUICE_ABI_MAJOR);
        return -1;
    }
    /* Spare slots are for hooks of later minors: a value there is a plugin
     * built against a header that put something in them, which this engine
     * would misread. Only the part the plugin's struct_size covers counts. */
    for (size_t i = 0; i < sizeof out->reserved / sizeof out->reserved[0]; i++) {
        if (out->reserved[i] != NULL) {
            snprintf(err, errsz,
                     "malformed descriptor: reserved[%zu] is not NULL (reserved slots must be zero)", i);
            return -1;
        }
    }
    if (!valid_name(out->name)) {
        snprintf(err, errsz, "malformed descriptor: name %s%s%s is not [a-z0-9_]+", out->name ? "'" : "",
                 out->name ? out->name : "(null)", out->name ? "'" : "");
        return -1;
    }
    if (out->kind != SLUICE_KIND_SOURCE && out->kind != SLUICE_KIND_OPERATOR &&
        out->kind != SLUICE_KIND_SINK) {
        snprintf(err, errsz, "malformed descriptor: plugin '%s' has unknown kind %d", out->name,
                 (int)out->kind);
        return -1;
    }
    if (out->version == NULL || out->version[0] == '\0') {
        snprintf(err, errsz, "malformed descriptor: plugin '%s' has no version", out->name);
        return -1;
    }
    if (out->create == NULL || out->destroy == NULL) {
        snprintf(err, errsz, "malformed descriptor: plugin '%s' lacks the %s hook", out->name,
                 out->create == NULL ? "create" : "destroy");
        return -1;
    }
    if (out->kind == SLUICE_KIND_SOURCE && out->poll == NULL) {
        snprintf(err, errsz, "malformed descriptor: source '%s' lacks the poll hook", out->name);
        return -1;
    }
    if (out->kind != SLUICE_KIND_SOURCE && out->process == NULL) {
        snprintf(err, errsz, "malformed descriptor: %s '%s' lacks the process hook",
                 plugin_kind_name(out->kind), out->name);
        return -1;
    }
    if (out->kind == SLUICE_KIND_OPERATOR &&
        (out->state_key < SLUICE_STATE_KEY_UNDECLARED || out->state_key > SLUICE_STATE_KEY_URL)) {
        snprintf(err, errsz, "malformed descriptor: operator '%s' declares unknown state_key %d", out->name,
                 (int)out->state_key);
        return -1;
    }
    if (out->state < SLUICE_STATE_UNDECLARED || out->state > SLUICE_STATE_KEPT) {
        snprintf(err, errsz, "malformed descriptor: plugin '%s' declares unknown state %d", out->name,
                 (int)out->state);
        return -1;
    }
    if (out->state == SLUICE_STATE_NONE && (out->snapshot || out->restore)) {
        snprintf(err, errsz,
                 "malformed descriptor: plugin '%s' declares SLUICE_STATE_NONE but has a %s hook; declare "
                 "SLUICE_STATE_KEPT",
                 out->name, out->snapshot ? "snapshot" : "restore");
        return -1;
    }
    if (out->kind == SLUICE_KIND_OPERATOR && out->state == SLUICE_STATE_KEPT &&
        out->state_key == SLUICE_STATE_KEY_NONE) {
        snprintf(err, errsz,
                 "malformed descriptor: operator '%s' declares SLUICE_STATE_KEPT with state_key NONE "
                 "(stateless)",
                 out->name);
        return -1;
    }
    if (vet_parts(out, err, errsz) != 0)
        return -1;
    if (out->description == NULL)
        out->description = "";
    if (out->options) {
        uint32_t stride = out->options[0].struct_size;
        if (stride < OPTION_SPEC_MIN_SIZE) {
            snprintf(
                err, errsz,
                "malformed descriptor: plugin '%s' option table has struct_size %u (at least %zu expected)",
                out->name, stride, (size_t)OPTION_SPEC_MIN_SIZE);
            return -1;
        }
        /* A compiler's sizeof is a multiple of the struct's alignment; any
         * other stride would have the entries below read misaligned. */
        if (stride % _Alignof(sluice_option_spec) != 0) {
            snprintf(err, errsz,
                     "malformed descriptor: plugin '%s' option table has struct_size %u, not a multiple of "
                     "its alignment (%zu)",
                     out->name, stride, (size_t) _Alignof(sluice_option_spec));
            return -1;
        }
        const char *base = (const char *)out->options;
        for (size_t i = 0; i < 1024; i++) {
            const sluice_option_spec *spec = (const sluice_option_spec *)(base + i * stride);
            if (spec->name == NULL)
                break;
            if (spec->struct_size != stride) {
                snprintf(err, errsz,
                         "malformed descriptor: plugin '%s' option %zu has struct_size %u, the first has %u",
                         out->name, i, spec->struct_size, stride);
                return -1;
            }
            if (spec->type < SLUICE_OPT_STRING || spec->type > SLUICE_OPT_LIST) {
                snprintf(err, errsz, "malformed descriptor: plugin '%s' option '%s' has unknown type %d",
                         out->name, spec->name, (int)spec->type);
                return -1;
            }
            if (i == 1023) {
                snprintf(err, errsz, "malformed descriptor: plugin '%s' option table is not terminated",
                         out->name);
                return -1;
            }
        }
    }
    if (out->outputs) {
        for (size_t i = 0; out->outputs[i]; i++) {
            if (!valid_name(out->outputs[i]) || strcmp(out->outputs[i], "main") == 0) {
                snprintf(err, errsz, "malformed descriptor: plugin '%s' declares an invalid output name '%s'",
                         out->name, out->outputs[i]);
                return -1;
            }
            if (i == 64) {
                snprintf(err, errsz, "malformed descriptor: plugin '%s' outputs list is not terminated",
                         out->name);
                return -1;
            }
        }
    }
    return 0;
}

const loaded_plugin *plugin_load_file(const char *path, char *err, size_t errsz)
{
    char real[PATH_MAX];
    if (realpath(path, real) == NULL) {
        snprintf(err, errsz, "%s: cannot open plugin: %m", path);
        return NULL;
    }
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < registry_count; i++) {
        if (strcmp(registry[i]->path, real) == 0) {
            pthread_mutex_unlock(&registry_lock);
            return registry[i];
        }
    }
    /* RTLD_LOCAL: plugins cannot see each other's symbols. */
    void *handle = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        snprintf(err, errsz, "%s: cannot load plugin: %s", path, dlerror());
        pthread_mutex_unlock(&registry_lock);
        return NULL;
    }
    sluice_plugin_entry_fn entry;
    *(void **)&entry = dlsym(handle, SLUICE_PLUGIN_ENTRY_SYMBOL);
    if (entry == NULL) {
        snprintf(err, errsz, "%s: not a Sluice plugin: it does not export the entry symbol %s()", path,
                 SLUICE_PLUGIN_ENTRY_SYMBOL);
        dlclose(handle);
        pthread_mutex_unlock(&registry_lock);
        return NULL;
    }
    const sluice_plugin *raw = entry();
    if (raw == NULL) {
        snprintf(err, errsz, "%s: %s() returned no descriptor", path, SLUICE_PLUGIN_ENTRY_SYMBOL);
        dlclose(handle);
        pthread_mutex_unlock(&registry_lock);
        return NULL;
    }
    loaded_plugin *p = xcalloc(1, sizeof *p);
    char why[400];
    if (vet_descriptor(raw, &p->desc, why, sizeof why) != 0) {
        snprintf(err, errsz, "%s: refused: %s", path, why);
        free(p);
        dlclose(handle);
        pthread_mutex_unlock(&registry_lock);
        return NULL;
    }
    p->path = xstrdup(real);
    p->handle = handle;
    p->outputs = p->desc.outputs ? p->desc.outputs : no_outputs;
    registry = xrealloc(registry, (registry_count + 1) * sizeof *registry);
    registry[registry_count++] = p;
    pthread_mutex_unlock(&registry_lock);
    return p;
}

loaded_plugin *plugin_from_descriptor(const sluice_plugin *desc, char *err, size_t errsz)
{
    if (desc == NULL) {
        snprintf(err, errsz, "no descriptor");
        return NULL;
    }
    loaded_plugin *p = xcalloc(1, sizeof *p);
    if (p == NULL || vet_descriptor(desc, &p->desc, err, errsz) != 0) {
        free(p);
        return NULL;
    }
    p->outputs = p->desc.outputs ? p->desc.outputs : no_outputs;
    return p;
}

void plugin_descriptor_free(loaded_plugin *p)
{
    if (p)
        free(p->path);
    free(p);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Names "<kind>-<name>.so" of every plugin file on the path, for suggestions. */
static size_t collect_names(const plugin_path *pp, unsigned kinds, char ***out)
{
    size_t n = 0;
    char **names = NULL;
    for (size_t d = 0; d < pp->count; d++) {
        DIR *dir = opendir(pp->dirs[d]);
        if (dir == NULL)
            continue;
        struct dirent *de;
        while ((de = readdir(dir)) != NULL) {
            if (!has_suffix(de->d_name, ".so"))
                continue;
            for (int k = SLUICE_KIND_SOURCE; k <= SLUICE_KIND_SINK; k++) {
                const char *kn = plugin_kind_name((sluice_kind)k);
                size_t kl = strlen(kn);
                if (!(kinds & (1u << k)) || strncmp(de->d_name, kn, kl) != 0 || de->d_name[kl] != '-')
                    continue;
                const char *start = de->d_name + kl + 1;
                size_t len = strlen(start) - 3;
                names = xrealloc(names, (n + 1) * sizeof *names);
                names[n++] = xstrndup(start, len);
            }
        }
        closedir(dir);
    }
    *out = names;
    return n;
}

const loaded_plugin *plugin_find(const plugin_path *pp, const char *name, unsigned kinds, char *err,
                                 size_t errsz)
{
    for (size_t d = 0; d < pp->count; d++) {
        for (int k = SLUICE_KIND_SOURCE; k <= SLUICE_KIND_SINK; k++) {
            if (!(kinds & (1u << k)))
                continue;
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s-%s.so", pp->dirs[d], plugin_kind_name((sluice_kind)k), name);
            if (access(path, F_OK) != 0)
                continue;
            const loaded_plugin *p = plugin_load_file(path, err, errsz);
            if (p == NULL)
                return NULL;
            if (strcmp(p->desc.name, name) != 0 || p->desc.kind != (sluice_kind)k) {
                snprintf(err, errsz,
                         "%s: refused: the file is named for %s '%s' but its descriptor says %s '%s'", path,
                         plugin_kind_name((sluice_kind)k), name, plugin_kind_name(p->desc.kind),
                         p->desc.name);
                return NULL;
            }
            return p;
        }
    }
    /* Not found: say what there is instead. */
    char **names;
    size_t n = collect_names(pp, kinds, &names);
    const char *near = suggest_closest(name, (const char *const *)names, n);
    char wanted[64] = "";
    for (int k = SLUICE_KIND_SOURCE; k <= SLUICE_KIND_SINK; k++) {
        if (kinds & (1u << k)) {
            if (wanted[0])
                strcat(wanted, " or ");
            strcat(wanted, plugin_kind_name((sluice_kind)k));
        }
    }
    char other[PATH_MAX] = "";
    for (size_t d = 0; d < pp->count && !other[0]; d++)
        for (int k = SLUICE_KIND_SOURCE; k <= SLUICE_KIND_SINK && !other[0]; k++) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s-%s.so", pp->dirs[d], plugin_kind_name((sluice_kind)k), name);
            if (!(kinds & (1u << k)) && access(path, F_OK) == 0)
                snprintf(other, sizeof other, " ('%s' is %s %s plugin)", name,
                         k == SLUICE_KIND_OPERATOR ? "an" : "a", plugin_kind_name((sluice_kind)k));
        }
    int len = snprintf(err, errsz, "unknown %s plugin '%s'%s", wanted, name, other);
    if (near && len > 0 && (size_t)len < errsz)
        len += snprintf(err + len, errsz - (size_t)len, "; did you mean '%s'?", near);
    if (len > 0 && (size_t)len < errsz) {
        len += snprintf(err + len, errsz - (size_t)len, " (searched:");
        for (size_t d = 0; d < pp->count && len > 0 && (size_t)len < errsz; d++)
            len += snprintf(err + len, errsz - (size_t)len, " %s", pp->dirs[d]);
        if (len > 0 && (size_t)len < errsz)
            snprintf(err + len, errsz - (size_t)len, ")");
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return NULL;
}

void plugin_scan(const plugin_path *pp, plugin_visit_fn fn, void *ud)
{
    char **seen = NULL;
    size_t nseen = 0;
    for (size_t d = 0; d < pp->count; d++) {
        struct dirent **list;
        int n = scandir(pp->dirs[d], &list, NULL, alphasort);
        if (n < 0)
            continue;
        for (int i = 0; i < n; i++) {
            const char *fname = list[i]->d_name;
            int dup = 0;
            for (size_t s = 0; s < nseen; s++)
                dup |= strcmp(seen[s], fname) == 0;
            if (has_suffix(fname, ".so") && !dup) {
                seen = xrealloc(seen, (nseen + 1) * sizeof *seen);
                seen[nseen++] = xstrdup(fname);
                char path[PATH_MAX + 256], err[1024];
                snprintf(path, sizeof path, "%s/%s", pp->dirs[d], fname);
                const loaded_plugin *p = plugin_load_file(path, err, sizeof err);
                fn(ud, path, p, p ? NULL : err);
            }
            free(list[i]);
        }
        free(list);
    }
    for (size_t s = 0; s < nseen; s++)
        free(seen[s]);
    free(seen);
}

void plugin_unload_all(void)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < registry_count; i++) {
        /* Sanitizer builds keep the objects mapped so leak reports can name them. */
#if !defined(__SANITIZE_ADDRESS__)
        dlclose(registry[i]->handle);
#endif
        free(registry[i]->path);
        free(registry[i]);
    }
    free(registry);
    registry = NULL;
    registry_count = 0;
    pthread_mutex_unlock(&registry_lock);
}
