/* Checkpoints of a running pipeline (see checkpoint.c). All run on the
 * pipeline's thread between ticks, while no worker runs. */
#ifndef SLUICE_CHECKPOINT_H
#define SLUICE_CHECKPOINT_H

#include "pipeline.h"

/* Restore every instance from the state folder's last checkpoint; -1 (the
 * pipeline failed, with the reason) when it cannot. */
int checkpoint_restore(pipeline *p);
/* Begin a checkpoint: positions, snapshots, flushes; it completes at once
 * or when the asynchronous sinks acknowledge it (checkpoint_poll). */
void checkpoint_take(pipeline *p);
void checkpoint_poll(pipeline *p);
/* At the end of a run: a last checkpoint, waited for; after a failure only
 * the flushes. */
void checkpoint_final(pipeline *p);

#endif
