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

#endif
