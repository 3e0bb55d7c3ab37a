/* The step graph of a pipeline: validated (one source, inputs that exist,
 * no cycles), ordered, and drawn as Graphviz DOT. */
#ifndef SLUICE_GRAPH_H
#define SLUICE_GRAPH_H

#include <sluice/plugin.h>
#include <stdio.h>

#include "diag.h"
#include "pipeline_def.h"

/* What the graph needs to know of a step's plugin; return 0 when the plugin
 * could not be loaded (checks needing it are skipped, the loader already
 * reported why). `outputs` is the descriptor's NULL-terminated extra outputs
 * (may be set to NULL). */
typedef int (*graph_plugin_info_fn)(void *ud, size_t step, sluice_kind *kind, const char *const **outputs);

/* Validate the graph; on success fill order[0..nsteps) with a topological
 * order of step indices (the source first) and return 0; else add diags and
 * return -1. Rules: exactly one source, without input; every other step has
 * inputs; each input names an existing step and one of its outputs ("main"
 * for sources and operators, the plugin's declared outputs, and "rejected"
 * for the source: the engine's dead letters); sinks have no outputs; no
 * input listed twice by a step; no cycles. */
int graph_validate(const pipeline_def *def, graph_plugin_info_fn info, void *ud, size_t *order,
                   diag_list *diags);

/* Where the engine runs a step: in keyed stage *stage (1-based; 0: once,
 * outside the stages), with *label saying how ("keyed by user, 8 tasks").
 * May be NULL when only the file is known. */
typedef void (*graph_stage_fn)(void *ud, size_t step, size_t *stage, const char **label);

/* A digraph with one node per step (name and plugin; shape by kind) and one
 * edge per input, labelled with the output's name unless it is "main". With
 * `stage`, the steps of each keyed stage are drawn in a box of their own and
 * an edge into a stage from outside it is an exchange (bold, labelled). */
void graph_print_dot(const pipeline_def *def, graph_plugin_info_fn info, graph_stage_fn stage, void *ud,
                     FILE *out);

/* The same as text, one step per line in file order: name, plugin, kind and
 * its inputs ("step" or "step.output"), for when Graphviz is not at hand. */
void graph_print_text(const pipeline_def *def, graph_plugin_info_fn info, void *ud, FILE *out);

/* Does a step of this kind (with these declared outputs) have `output`?
 * The source's "rejected" is the engine's, present whatever the plugin says. */
int graph_has_output(sluice_kind kind, const char *const *outputs, const char *output);

#endif
