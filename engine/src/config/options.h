/* A step's `options:` validated against its plugin's declared
 * sluice_option_spec table, and the accessors behind the host API's opt_*. */
#ifndef SLUICE_OPTIONS_H
#define SLUICE_OPTIONS_H

#include <sluice/plugin.h>
#include <stdio.h>

#include "diag.h"
#include "pipeline_def.h"

/* Validate `map` (the step's options map, or NULL when none were given)
 * against `spec` (NULL-name terminated; NULL = the plugin takes no options).
 * Reports unknown options (with a suggestion), missing required ones, wrong
 * types and out-of-range values at the value's position, and a bad spec
 * (too-small struct_size, unknown type, unparseable default) naming the
 * plugin. The spec's element stride is spec[0].struct_size, so a plugin built
 * against an older, smaller sluice_option_spec is read as far as it goes.
 * Returns NULL when anything was wrong. `file` is used for errors that have
 * no place in the file (it must outlive diags). */
sluice_options *options_build(const sluice_option_spec *spec, const cfg_node *map, const char *plugin_name,
                              const char *file, diag_list *diags);
/* The same, with `where` (e.g. the step's position) for errors that belong to
 * no value, such as a missing required option when no `options:` was given. */
sluice_options *options_build_at(const sluice_option_spec *spec, const cfg_node *map, const char *plugin_name,
                                 src_pos where, diag_list *diags);
void options_free(sluice_options *opts);

/* Accessors with the host API's signatures (sluice_host_api.opt_*): the value
 * given, else the declared default, else the zero value. Strings live as long
 * as opts. An undeclared name or the wrong type returns the zero value and is
 * reported through the misuse handler. opt_string serves STRING and ENUM;
 * opt_entry returns 1 for an existing entry, 0 otherwise. */
const char *options_string(const sluice_options *opts, const char *name);
int64_t options_int(const sluice_options *opts, const char *name);
double options_double(const sluice_options *opts, const char *name);
int options_bool(const sluice_options *opts, const char *name);
int64_t options_duration_ms(const sluice_options *opts, const char *name); /* -1 = off */
int options_is_set(const sluice_options *opts, const char *name);
size_t options_count(const sluice_options *opts, const char *name);
int options_entry(const sluice_options *opts, const char *name, size_t i, const char **key,
                  const char **value);

/* Is the option declared secret (its value never printed)? 0 if undeclared. */
int options_is_secret(const sluice_options *opts, const char *name);

/* Where accessor misuse is reported (a plugin bug); default: stderr. The
 * handler may be called from any pipeline thread. NULL restores the default. */
typedef void (*options_misuse_fn)(const sluice_options *opts, const char *message);
void options_set_misuse_handler(options_misuse_fn fn);

/* `sluice plugins` help: one entry per option with type, default, range or
 * values, required, secret, and the doc line. Secret defaults are hidden. */
void options_print_help(const sluice_option_spec *spec, FILE *out);
/* The effective values, one "name: value" line each, secrets as "***". */
void options_print_values(const sluice_options *opts, FILE *out);

/* "1h", "250ms", "90s": the shortest exact rendering of a duration. */
void options_format_duration(int64_t ms, char *buf, size_t size);

#endif
