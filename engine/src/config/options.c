/* Plugin options: the spec table read with the plugin's own stride, a
 * step's options map checked against it, and typed read-back. */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg_yaml.h"
#include "duration.h"
#include "suggest.h"
#include "xalloc.h"

/* A spec table without a terminator would be read forever. */
#define OPTIONS_MAX_SPECS 1024

/* The oldest sluice_option_spec layout ends with `doc`. */
#define SPEC_MIN_SIZE (offsetof(sluice_option_spec, doc) + sizeof(((sluice_option_spec *)0)->doc))

typedef struct opt_value {
    sluice_option_spec spec; /* normalized to this engine's layout */
    char *name;              /* owned copy */
    int is_set;              /* given in the pipeline */
    int has_value;           /* given, or defaulted */
    char *text;              /* scalar types: the text as written (owned) */
    int64_t i;               /* INT; DURATION in ms (-1 = off) */
    double d;
    int b;
    size_t count; /* MAP / LIST */
    char **keys;  /* MAP only */
    char **values;
} opt_value;

struct sluice_options {
    char *plugin;
    opt_value *v;
    size_t n;
};

/* ------------------------------------------------------------------------ */
/* Reading the plugin's spec table                                           */

static const char *type_name(sluice_opt_type t)
{
    switch (t) {
    case SLUICE_OPT_STRING:
        return "string";
    case SLUICE_OPT_INT:
        return "int";
    case SLUICE_OPT_DOUBLE:
        return "double";
    case SLUICE_OPT_BOOL:
        return "bool";
    case SLUICE_OPT_DURATION:
        return "duration";
    case SLUICE_OPT_ENUM:
        return "enum";
    case SLUICE_OPT_MAP:
        return "map";
    case SLUICE_OPT_LIST:
        return "list";
    }
    return NULL;
}

/* Copy entry i as far as the plugin's struct goes; members it does not
 * have (wholly or partly past its stride) read as zero. */
static void spec_entry(const sluice_option_spec *spec, size_t stride, size_t i, sluice_option_spec *out)
{
    memset(out, 0, sizeof *out);
    size_t n = stride < sizeof *out ? stride : sizeof *out;
    memcpy(out, (const char *)spec + i * stride, n);
#define ZERO_PAST_STRIDE(member)                                            \
    if (offsetof(sluice_option_spec, member) + sizeof out->member > stride) \
    memset(&out->member, 0, sizeof out->member)
    ZERO_PAST_STRIDE(min);
    ZERO_PAST_STRIDE(max);
    ZERO_PAST_STRIDE(enum_values);
    ZERO_PAST_STRIDE(allow_off);
    ZERO_PAST_STRIDE(secret);
#undef ZERO_PAST_STRIDE
}

/* Normalized entries of the table into *out (malloc'd); -1 on a bad table. */
static int read_spec(const sluice_option_spec *spec, const char *plugin, src_pos where, diag_list *diags,
                     sluice_option_spec **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!spec)
        return 0;
    size_t stride = spec->struct_size;
    if (stride < SPEC_MIN_SIZE) {
        diag_add(diags, where,
                 "plugin '%s' declares its options with struct_size %zu, smaller than any "
                 "sluice_option_spec (at least %zu bytes); rebuild it against sluice/plugin.h",
                 plugin, stride, (size_t)SPEC_MIN_SIZE);
        return -1;
    }
    int bad = 0;
    for (size_t i = 0;; i++) {
        if (i == OPTIONS_MAX_SPECS) {
            diag_add(diags, where, "plugin '%s' declares more than %d options (missing terminator?)", plugin,
                     OPTIONS_MAX_SPECS);
            bad = 1;
            break;
        }
        sluice_option_spec e;
        spec_entry(spec, stride, i, &e);
        if (!e.name)
            break;
        if (e.struct_size != stride) {
            diag_add(diags, where,
                     "plugin '%s': option '%s' has struct_size %u, unlike the table's first (%zu)", plugin,
                     e.name, e.struct_size, stride);
            bad = 1;
        }
        if (!*e.name) {
            diag_add(diags, where, "plugin '%s' declares an option with an empty name", plugin);
            bad = 1;
        }
        if (!type_name(e.type)) {
            diag_add(diags, where, "plugin '%s': option '%s' has unknown type %d", plugin, e.name,
                     (int)e.type);
            bad = 1;
        }
        if (e.type == SLUICE_OPT_ENUM && (!e.enum_values || !*e.enum_values)) {
            diag_add(diags, where, "plugin '%s': enum option '%s' lists no values", plugin, e.name);
            bad = 1;
        }
        for (size_t j = 0; j < *n; j++) {
            if (strcmp((*out)[j].name, e.name) == 0) {
                diag_add(diags, where, "plugin '%s' declares option '%s' twice", plugin, e.name);
                bad = 1;
            }
        }
        sluice_option_spec *grown = xrealloc(*out, (*n + 1) * sizeof *grown);
        if (!grown) {
            bad = 1;
            break;
        }
        *out = grown;
        (*out)[(*n)++] = e;
    }
    return bad ? -1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Converting one value                                                      */

void options_format_duration(int64_t ms, char *buf, size_t size)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
    if (ms < 0) {
        snprintf(buf, size, "off");
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ms != 0 && ms % units[i].ms == 0) {
            snprintf(buf, size, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            return;
        }
    }
    snprintf(buf, size, "%lldms", (long long)ms);
}

static int has_range(const sluice_option_spec *s)
{
    /* min == max == 0 is what an unset range looks like (zeroed or older
     * structs), so it means "no range" rather than "only 0". */
    return s->min <= s->max && !(s->min == 0 && s->max == 0);
}

static void format_bound(const sluice_option_spec *s, double v, char *buf, size_t size)
{
    if (s->type == SLUICE_OPT_DURATION && v == 0)
        snprintf(buf, size, "0");
    else if (s->type == SLUICE_OPT_DURATION)
        options_format_duration((int64_t)v, buf, size);
    else if (s->type == SLUICE_OPT_INT && v >= 1048576 && v == ldexp(1, ilogb(v)))
        snprintf(buf, size, "2^%d", ilogb(v)); /* 2^40, not 1099511627776 */
    else if (s->type == SLUICE_OPT_INT)
        snprintf(buf, size, "%.0f", v);
    else {
        /* 1e9, not %g's 1e+09. */
        char raw[32], *e;
        snprintf(raw, sizeof raw, "%g", v);
        if ((e = strchr(raw, 'e')) != NULL) {
            char *digits = e + 1 + (e[1] == '+' || e[1] == '-');
            while (*digits == '0' && digits[1] != '\0')
                memmove(digits, digits + 1, strlen(digits));
            if (e[1] == '+')
                memmove(e + 1, e + 2, strlen(e + 1));
        }
        snprintf(buf, size, "%s", raw);
    }
}

/* Bounds this large stand for "no limit" (plugins write e.g. 1e17 ms). In
 * help, a duration bound past 1000 days or an integer one past 2^53 is no
 * limit either: plugins put 50000000m or 9007199254740991 there as "anything
 * sane", and printing it would only puzzle the reader. An error still names
 * the exact bound. */
static int bound_is_open(const sluice_option_spec *s, double v, int exact)
{
    double limit = s->type == SLUICE_OPT_DURATION ? (exact ? 1e15 : 1000 * 86400e3)
                   : s->type == SLUICE_OPT_INT    ? (exact ? 9e18 : 9e15)
                                                  : 1e300;
    return v >= limit || v <= -limit;
}

/* "1s..1d", "at least 1ms", "up to 15m", or "" when neither bound matters
 * (a duration's lower bound of 0 says nothing: none is negative). With
 * `for_error`, the words fit after "must be". */
static void format_range(const sluice_option_spec *s, char *buf, size_t size, int for_error)
{
    char lo[32], hi[32];
    int has_lo = !bound_is_open(s, s->min, for_error) && !(s->type == SLUICE_OPT_DURATION && s->min <= 0);
    int has_hi = !bound_is_open(s, s->max, for_error);
    if (!has_range(s) || (!has_lo && !has_hi)) {
        snprintf(buf, size, "%s", "");
        return;
    }
    /* Only the bounds shown: an open one (1e300) is no int64 to format. */
    if (has_lo)
        format_bound(s, s->min, lo, sizeof lo);
    if (has_hi)
        format_bound(s, s->max, hi, sizeof hi);
    if (has_lo && has_hi)
        snprintf(buf, size, "%s%s..%s", for_error ? "in " : "", lo, hi);
    else if (has_lo)
        snprintf(buf, size, "at least %s", lo);
    else
        snprintf(buf, size, "%s %s", for_error ? "at most" : "up to", hi);
}

static int check_range(const sluice_option_spec *s, double v, const char *shown, char *err, size_t errsz)
{
    if (!has_range(s) || (v >= s->min && v <= s->max))
        return 0;
    char range[80];
    format_range(s, range, sizeof range, 1);
    snprintf(err, errsz, "must be %s, not '%s'", *range ? range : "smaller", shown);
    return -1;
}

static int parse_int(const char *s, int64_t *out)
{
    if (!(isdigit((unsigned char)s[0]) || ((s[0] == '-' || s[0] == '+') && isdigit((unsigned char)s[1]))))
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    if (!*s || isspace((unsigned char)s[0]))
        return -1;
    char *end;
    double v = strtod(s, &end);
    if (*end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(s, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

/* Is `s` one of the '|'-separated values? Else suggest the closest one. */
static int enum_match(const char *values, const char *s, char *hint, size_t hintsz)
{
    char *copy = xstrdup(values);
    if (!copy)
        return -1;
    const char *items[64];
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(copy, "|", &save); tok && n < 64;
         tok = strtok_r(NULL, "|", &save))
        items[n++] = tok;
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found = found || strcmp(items[i], s) == 0;
    const char *near = found ? NULL : suggest_closest(s, items, n);
    snprintf(hint, hintsz, "%s", near ? near : "");
    free(copy);
    return found ? 0 : -1;
}

static int is_null_text(const cfg_node *n) { return n->kind == CFG_SCALAR && !n->quoted && !*n->scalar; }

/* Convert `node` into v per v->spec; on failure write the problem into err
 * and set *at to the offending node. */
static int convert(opt_value *v, const cfg_node *node, char *err, size_t errsz, const cfg_node **at)
{
    const sluice_option_spec *s = &v->spec;
    *at = node;
    if (s->type == SLUICE_OPT_MAP || s->type == SLUICE_OPT_LIST) {
        if (is_null_text(node))
            return 0; /* `name:` with nothing: empty */
        int map = s->type == SLUICE_OPT_MAP;
        if ((map && node->kind != CFG_MAP) || node->kind == (map ? CFG_LIST : CFG_MAP)) {
            snprintf(err, errsz, "must be %s, not %s", map ? "a map" : "a list or a single value",
                     cfg_kind_name(node->kind));
            return -1;
        }
        size_t n = node->kind == CFG_SCALAR ? 1 : node->count;
        v->values = xcalloc(n, sizeof *v->values);
        v->keys = map ? xcalloc(n, sizeof *v->keys) : NULL;
        if (!v->values || (map && !v->keys)) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            const cfg_node *item = node->kind == CFG_SCALAR ? node : node->items[i];
            if (item->kind != CFG_SCALAR) {
                *at = item;
                if (map)
                    snprintf(err, errsz, "entry '%s' must be a single value, not %s", node->keys[i],
                             cfg_kind_name(item->kind));
                else
                    snprintf(err, errsz, "item %zu must be a single value, not %s", i + 1,
                             cfg_kind_name(item->kind));
                return -1;
            }
            v->values[i] = xstrdup(item->scalar);
            if (map)
                v->keys[i] = xstrdup(node->keys[i]);
            v->count++;
            if (!v->values[i] || (map && !v->keys[i])) {
                snprintf(err, errsz, "out of memory");
                return -1;
            }
        }
        return 0;
    }
    if (node->kind != CFG_SCALAR) {
        snprintf(err, errsz, "must be a single value, not %s", cfg_kind_name(node->kind));
        return -1;
    }
    const char *t = node->scalar;
    const char *shown = s->secret ? "***" : t;
    if (!(v->text = xstrdup(t))) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    char hint[128];
    switch (s->type) {
    case SLUICE_OPT_STRING:
        return 0;
    case SLUICE_OPT_INT:
        if (parse_int(t, &v->i) < 0) {
            snprintf(err, errsz, "must be an integer, not '%s'", shown);
            return -1;
        }
        return check_range(s, (double)v->i, shown, err, errsz);
    case SLUICE_OPT_DOUBLE:
        if (parse_double(t, &v->d) < 0) {
            snprintf(err, errsz, "must be a number, not '%s'", shown);
            return -1;
        }
        return check_range(s, v->d, shown, err, errsz);
    case SLUICE_OPT_BOOL:
        if (parse_bool(t, &v->b) < 0) {
            snprintf(err, errsz, "must be true or false (also yes/no, on/off), not '%s'", shown);
            return -1;
        }
        return 0;
    case SLUICE_OPT_DURATION:
        if (s->allow_off && strcmp(t, "off") == 0) {
            v->i = -1;
            return 0;
        }
        if (duration_parse_ms(t, &v->i) < 0) {
            snprintf(err, errsz, "must be a duration such as 250ms, 5s, 30m, 1h or 1d%s, not '%s'",
                     s->allow_off ? " (or off)" : "", shown);
            return -1;
        }
        return check_range(s, (double)v->i, shown, err, errsz);
    case SLUICE_OPT_ENUM:
        if (enum_match(s->enum_values, t, hint, sizeof hint) < 0) {
            if (*hint && !s->secret)
                snprintf(err, errsz, "must be one of %s, not '%s'; did you mean '%s'?", s->enum_values, shown,
                         hint);
            else
                snprintf(err, errsz, "must be one of %s, not '%s'", s->enum_values, shown);
            return -1;
        }
        return 0;
    default:
        snprintf(err, errsz, "has an unknown type");
        return -1;
    }
}

static void value_clear(opt_value *v)
{
    free(v->text);
    for (size_t i = 0; i < v->count; i++) {
        if (v->keys)
            free(v->keys[i]);
        free(v->values[i]);
    }
    free(v->keys);
    free(v->values);
    v->text = NULL;
    v->keys = v->values = NULL;
    v->count = 0;
}

/* The declared default, parsed like a pipeline value. */
static void apply_default(opt_value *v, const char *plugin, src_pos where, diag_list *diags)
{
    const char *text = v->spec.default_value;
    cfg_node scalar = {.kind = CFG_SCALAR, .pos = where, .scalar = (char *)text, .quoted = 1};
    cfg_node *tree = NULL;
    if (v->spec.type == SLUICE_OPT_MAP || v->spec.type == SLUICE_OPT_LIST) {
        diag_list tmp;
        diag_init(&tmp);
        tree = cfg_yaml_read_string(text, "", &tmp);
        if (!tree && tmp.count) {
            diag_add(diags, where, "plugin '%s' declares a bad default for option '%s': %s", plugin, v->name,
                     tmp.items[0].message);
            diag_free(&tmp);
            return;
        }
        diag_free(&tmp);
    }
    char err[512];
    const cfg_node *at;
    if (convert(v, tree ? tree : &scalar, err, sizeof err, &at) < 0) {
        diag_add(diags, where, "plugin '%s' declares a bad default for option '%s': %s", plugin, v->name,
                 err);
        value_clear(v);
    } else {
        v->has_value = 1;
    }
    cfg_free(tree);
}

/* ------------------------------------------------------------------------ */
/* Building                                                                  */

void options_free(sluice_options *opts)
{
    if (!opts)
        return;
    for (size_t i = 0; i < opts->n; i++) {
        value_clear(&opts->v[i]);
        free(opts->v[i].name);
    }
    free(opts->v);
    free(opts->plugin);
    free(opts);
}

static void report_unknown(const cfg_node *map, size_t i, const sluice_option_spec *specs, size_t n,
                           const char *plugin, diag_list *diags)
{
    if (n == 0) {
        diag_add(diags, map->key_pos[i], "unknown option '%s': plugin '%s' takes no options", map->keys[i],
                 plugin);
        return;
    }
    const char **names = xmalloc(n * sizeof *names);
    for (size_t j = 0; names && j < n; j++)
        names[j] = specs[j].name;
    const char *hint = names ? suggest_closest(map->keys[i], names, n) : NULL;
    if (hint)
        diag_add(diags, map->key_pos[i], "unknown option '%s' for plugin '%s'; did you mean '%s'?",
                 map->keys[i], plugin, hint);
    else
        diag_add(diags, map->key_pos[i], "unknown option '%s' for plugin '%s'", map->keys[i], plugin);
    free(names);
}

sluice_options *options_build_at(const sluice_option_spec *spec, const cfg_node *map, const char *plugin_name,
                                 src_pos where, diag_list *diags)
{
    size_t errors_before = diags->count;
    const char *plugin = plugin_name ? plugin_name : "?";
    if (map && map->kind != CFG_MAP) {
        diag_add(diags, map->pos, "the options of plugin '%s' must be a map, not %s", plugin,
                 cfg_kind_name(map->kind));
        map = NULL;
    }
    if (map)
        where = map->pos;
    sluice_option_spec *specs;
    size_t n;
    if (read_spec(spec, plugin, where, diags, &specs, &n) < 0) {
        free(specs);
        return NULL;
    }
    sluice_options *opts = xcalloc(1, sizeof *opts);
    if (!opts || !(opts->plugin = xstrdup(plugin)) || (n && !(opts->v = xcalloc(n, sizeof *opts->v)))) {
        diag_add(diags, where, "out of memory");
        free(specs);
        options_free(opts);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        opts->v[i].spec = specs[i];
        opts->v[i].name = xstrdup(specs[i].name);
        opts->n++;
        if (!opts->v[i].name) {
            diag_add(diags, where, "out of memory");
            break;
        }
    }
    for (size_t k = 0; map && k < map->count; k++) {
        size_t i = 0;
        while (i < opts->n && strcmp(opts->v[i].name, map->keys[k]) != 0)
            i++;
        if (i == opts->n) {
            report_unknown(map, k, specs, n, plugin, diags);
            continue;
        }
        opt_value *v = &opts->v[i];
        char err[512];
        const cfg_node *at;
        v->is_set = v->has_value = 1;
        if (convert(v, map->items[k], err, sizeof err, &at) < 0) {
            char origin[512];
            cfg_origin(at, v->spec.secret, origin, sizeof origin);
            diag_add(diags, at->pos, "option '%s' of plugin '%s'%s%s%s", v->name, plugin,
                     strncmp(err, "must", 4) == 0 ? " " : ": ", err, origin);
        }
    }
    for (size_t i = 0; i < opts->n; i++) {
        opt_value *v = &opts->v[i];
        if (v->is_set)
            continue;
        if (v->spec.required)
            diag_add(diags, where, "missing required option '%s' of plugin '%s'", v->name, plugin);
        else if (v->spec.default_value)
            apply_default(v, plugin, where, diags);
    }
    free(specs);
    if (diags->count > errors_before) {
        options_free(opts);
        return NULL;
    }
    return opts;
}

sluice_options *options_build(const sluice_option_spec *spec, const cfg_node *map, const char *plugin_name,
                              const char *file, diag_list *diags)
{
    return options_build_at(spec, map, plugin_name, (src_pos){file, 0, 0}, diags);
}

/* ------------------------------------------------------------------------ */
/* Reading back                                                              */

static void default_misuse(const sluice_options *opts, const char *message)
{
    (void)opts;
    fprintf(stderr, "sluice: %s\n", message);
}

static options_misuse_fn misuse_handler = default_misuse;

void options_set_misuse_handler(options_misuse_fn fn) { misuse_handler = fn ? fn : default_misuse; }

/* The value of `name` if declared with one of the two types (0 = any). */
static const opt_value *lookup(const sluice_options *opts, const char *name, sluice_opt_type t1,
                               sluice_opt_type t2, const char *asked)
{
    char msg[256];
    if (!opts || !name) {
        snprintf(msg, sizeof msg, "option read as %s with no options or no name", asked);
        misuse_handler(opts, msg);
        return NULL;
    }
    for (size_t i = 0; i < opts->n; i++) {
        const opt_value *v = &opts->v[i];
        if (strcmp(v->name, name) != 0)
            continue;
        if (t1 && v->spec.type != t1 && v->spec.type != t2) {
            snprintf(msg, sizeof msg, "plugin '%s' reads option '%s' (a %s) as %s", opts->plugin, name,
                     type_name(v->spec.type), asked);
            misuse_handler(opts, msg);
            return NULL;
        }
        return v;
    }
    snprintf(msg, sizeof msg, "plugin '%s' reads option '%s', which it does not declare", opts->plugin, name);
    misuse_handler(opts, msg);
    return NULL;
}

const char *options_string(const sluice_options *opts, const char *name)
{
    const opt_value *v = lookup(opts, name, SLUICE_OPT_STRING, SLUICE_OPT_ENUM, "a string");
    return v && v->has_value ? v->text : NULL;
}

int64_t options_int(const sluice_options *opts, const char *name)
{
    const opt_value *v = lookup(opts, name, SLUICE_OPT_INT, SLUICE_OPT_INT, "an int");
    return v && v->has_value ? v->i : 0;
}

double options_double(const sluice_options *opts, const char *name)
{
    const opt_value *v = lookup(opts, name, SLUICE_OPT_DOUBLE, SLUICE_OPT_DOUBLE, "a double");
    return v && v->has_value ? v->d : 0.0;
}

int options_bool(const sluice_options *opts, const char *name)
{
    const opt_value *v = lookup(opts, name, SLUICE_OPT_BOOL, SLUICE_OPT_BOOL, "a bool");
    return v && v->has_value ? v->b : 0;
}

int64_t options_duration_ms(const sluice_options *opts, const char *name)
{
    const opt_value *v = lookup(opts, name, SLUICE_OPT_DURATION, SLUICE_OPT_DURATION, "a duration");
    return v && v->has_value ? v->i : 0;
}

int options_is_set(const sluice_options *opts, const char *name)
{
    const opt_value *v = lookup(opts, name, 0, 0, "is_set");
    return v ? v->is_set : 0;
}

size_t options_count(const sluice_options *opts, const char *name)
{
    const opt_value *v = lookup(opts, name, SLUICE_OPT_MAP, SLUICE_OPT_LIST, "a map or list");
    return v ? v->count : 0;
}

int options_entry(const sluice_options *opts, const char *name, size_t i, const char **key,
                  const char **value)
{
    const opt_value *v = lookup(opts, name, SLUICE_OPT_MAP, SLUICE_OPT_LIST, "a map or list");
    if (key)
        *key = NULL;
    if (value)
        *value = NULL;
    if (!v || i >= v->count)
        return 0;
    if (key && v->keys)
        *key = v->keys[i];
    if (value)
        *value = v->values[i];
    return 1;
}

int options_is_secret(const sluice_options *opts, const char *name)
{
    for (size_t i = 0; opts && name && i < opts->n; i++)
        if (strcmp(opts->v[i].name, name) == 0)
            return opts->v[i].spec.secret != 0;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Printing                                                                  */

void options_print_help(const sluice_option_spec *spec, FILE *out)
{
    diag_list diags;
    diag_init(&diags);
    sluice_option_spec *specs;
    size_t n;
    if (read_spec(spec, "", (src_pos){0}, &diags, &specs, &n) < 0) {
        fprintf(out, "  (the plugin's option table is invalid: %s)\n",
                diags.count ? diags.items[0].message : "?");
        diag_free(&diags);
        free(specs);
        return;
    }
    diag_free(&diags);
    if (n == 0)
        fprintf(out, "  (no options)\n");
    for (size_t i = 0; i < n; i++) {
        const sluice_option_spec *s = &specs[i];
        fprintf(out, "  %s (%s", s->name, type_name(s->type));
        if (s->type == SLUICE_OPT_ENUM)
            fprintf(out, ": %s", s->enum_values);
        if (s->required)
            fprintf(out, ", required");
        else if (s->default_value)
            fprintf(out, ", default %s", s->secret ? "***" : s->default_value);
        if (s->type == SLUICE_OPT_INT || s->type == SLUICE_OPT_DOUBLE || s->type == SLUICE_OPT_DURATION) {
            char range[80];
            format_range(s, range, sizeof range, 0);
            if (*range)
                fprintf(out, ", %s", range);
        }
        if (s->type == SLUICE_OPT_DURATION && s->allow_off)
            fprintf(out, ", or off");
        if (s->secret)
            fprintf(out, ", secret");
        fprintf(out, ")\n");
        if (s->doc && *s->doc)
            fprintf(out, "      %s\n", s->doc);
    }
    free(specs);
}

void options_print_values(const sluice_options *opts, FILE *out)
{
    for (size_t i = 0; opts && i < opts->n; i++) {
        const opt_value *v = &opts->v[i];
        fprintf(out, "  %s: ", v->name);
        if (!v->has_value) {
            fprintf(out, "(not set)\n");
            continue;
        }
        if (v->spec.secret) {
            fprintf(out, "***\n");
            continue;
        }
        if (v->spec.type == SLUICE_OPT_MAP || v->spec.type == SLUICE_OPT_LIST) {
            int map = v->spec.type == SLUICE_OPT_MAP;
            fputc(map ? '{' : '[', out);
            for (size_t j = 0; j < v->count; j++) {
                if (map)
                    fprintf(out, "%s%s: %s", j ? ", " : "", v->keys[j], v->values[j]);
                else
                    fprintf(out, "%s%s", j ? ", " : "", v->values[j]);
            }
            fprintf(out, "%c\n", map ? '}' : ']');
        } else {
            fprintf(out, "%s\n", v->text);
        }
    }
}
