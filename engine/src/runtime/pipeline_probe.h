/* Creating each step of an opened pipeline once, without running it. */
#ifndef SLUICE_PIPELINE_PROBE_H
#define SLUICE_PIPELINE_PROBE_H

#include "pipeline.h"

/* Create, flush and destroy one instance of every step (sinks first);
 * each failure goes to diags at the step's plugin. 0 when all started. */
int pipeline_probe(pipeline *p, diag_list *diags);

#endif
