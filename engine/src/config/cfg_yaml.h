/* Reading YAML into cfg_node trees (the node type lives in pipeline_def.h). */
#ifndef SLUICE_CFG_YAML_H
#define SLUICE_CFG_YAML_H

#include <stdio.h>

#include "pipeline_def.h"

/* One YAML document from a file; scalar values (not keys) are interpolated
 * with `lookup` (NULL: getenv). Positions name `file` (borrowed). Returns the
 * root, or NULL after a syntax error or for an empty stream (errors in diags;
 * an empty stream adds none). */
cfg_node *cfg_yaml_read_file(FILE *fp, const char *file, interp_lookup_fn lookup, void *ud, diag_list *diags);
/* The same from text, without interpolation (plugins' option defaults). */
cfg_node *cfg_yaml_read_string(const char *text, const char *file, diag_list *diags);
void cfg_free(cfg_node *n);
/* For a message about a scalar's value: "" when it was written as is, else
 * " (from $WINDOW, interpolated here into '${WINDOW:-1m}')", so that the
 * error names the variable the user set rather than only the option it
 * reached. With `secret`, the text as written is left out. */
void cfg_origin(const cfg_node *n, int secret, char *buf, size_t size);

#endif
