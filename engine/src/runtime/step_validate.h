/* Checks of a pipeline's steps that need their plugins: each plugin's
 * validate hook, and that no step keeps state a restart would lose. */
#ifndef SLUICE_STEP_VALIDATE_H
#define SLUICE_STEP_VALIDATE_H

#include "pipeline.h"

/* Run every step's validate hook and the state rule; errors go to diags at
 * their positions. 0 when all is well, -1 otherwise. Contexts must be set. */
int pipeline_validate_steps(pipeline *p, diag_list *diags);

/* Does the plugin keep state: declared so, or (undeclared, older plugins)
 * it has a snapshot hook. */
int step_keeps_state(const loaded_plugin *lp);

/* The host API's option_error. */
void step_option_error(sluice_ctx *ctx, const char *option, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
