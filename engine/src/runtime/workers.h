/* A fixed pool of worker threads that run one round of work together: the
 * caller starts a round, takes part in it as worker 0, and returns when every
 * worker has finished it. Rounds are the keyed region's share of an engine
 * tick; between rounds the workers sleep. */
#ifndef SLUICE_WORKERS_H
#define SLUICE_WORKERS_H

#include <stddef.h>

typedef struct worker_pool worker_pool;

/* fn(arg, worker) is called once per round on each of n workers (0 is the
 * caller's thread). NULL when a thread cannot be started. */
worker_pool *workers_start(size_t n, void (*fn)(void *arg, size_t worker), void *arg);
/* One round: returns when fn has returned on every worker. */
void workers_round(worker_pool *pool);
/* The same round in two halves, so the caller can do other work while the
 * helpers start on it: begin wakes the helpers; join runs fn as worker 0
 * and returns when every worker has finished. */
void workers_begin(worker_pool *pool);
void workers_join(worker_pool *pool);
/* Ends the threads; pool may be NULL. */
void workers_stop(worker_pool *pool);

#endif
