/* Checkpoints of a running pipeline (see checkpoint.c). All run on the
 * pipeline's thread between ticks, while no worker runs. */
#ifndef SLUICE_CHECKPOINT_H
#define SLUICE_CHECKPOINT_H

#include "pipeline.h"

/* Restore every instance from the state folder's last checkpoint; -1 (the
 * pipeline failed, with the reason) when it cannot. */
int checkpoint_restore(pipeline *p);
/* What `sluice check` says of the state folder's last checkpoint before a
 * run: state of steps the pipeline no longer has, of another plugin or task
 * split, and (for operators, or every step with create_all) state the
 * plugin refuses to restore into a fresh instance. Errors go to diags;
 * steps named by --discard-state are left out. 0 when a run would restore
 * it all. */
int checkpoint_check(pipeline *p, int create_all, diag_list *diags);
/* Was the state of this step to be dropped on purpose (--discard-state)? */
int checkpoint_discards(const pipeline *p, const char *step_name);

/* Begin a checkpoint: positions, snapshots, flushes; it completes at once
 * or when the asynchronous sinks acknowledge it (checkpoint_poll). */
void checkpoint_take(pipeline *p);
void checkpoint_poll(pipeline *p);
/* At the end of a run: a last checkpoint, waited for; after a failure only
 * the flushes. */
void checkpoint_final(pipeline *p);
/* A checkpoint taken and waited for now (the one in progress first): the
 * source gives partitions up in a rebalance. */
void checkpoint_now(pipeline *p);

#endif
