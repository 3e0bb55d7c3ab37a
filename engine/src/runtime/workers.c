#include "workers.h"
#include "clock.h"
#include "xalloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* A round is often a millisecond of work or less, and waking a sleeping
 * thread costs tens of microseconds (more on a virtual machine), long
 * enough for the caller to have taken every task itself. So a helper that
 * finished a round, and a caller waiting for the helpers, first spin this
 * long, as OpenMP runtimes do, then sleep. SLUICE_SPIN_US overrides it. */
#define SPIN_NS 200000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Spin while *word is `value` (or, with `nonzero`, is not 0), for spin_ns at most. */
static void spin_while(int64_t spin_ns, const _Atomic unsigned long *word, unsigned long value, int nonzero)
{
    int64_t until = 0;
    if (spin_ns <= 0)
        return;
    for (unsigned i = 1;; i++) {
        unsigned long now_value = atomic_load_explicit(word, memory_order_acquire);
        if (nonzero ? now_value == 0 : now_value != value)
            return;
        cpu_relax();
        if (i % 64 == 0) {
            int64_t now = clock_mono_ns();
            if (until == 0)
                until = now + spin_ns;
            else if (now >= until)
                return;
        }
    }
}

struct worker_pool {
    size_t n;
    void (*fn)(void *arg, size_t worker);
    void *arg;
    pthread_mutex_t lock;
    pthread_cond_t start, done;
    _Atomic unsigned long round;   /* bumped to start a round */
    _Atomic unsigned long running; /* helpers still in the current round */
    _Atomic int stopping;
    int64_t spin_ns;
    pthread_t *threads; /* n - 1 helpers: worker 0 is the caller */
    struct helper {
        worker_pool *pool;
        size_t index;
    } * helpers;
};

static void *helper_main(void *arg)
{
    struct helper *h = arg;
    worker_pool *pool = h->pool;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        if (pool->round == seen && !pool->stopping) {
            pthread_mutex_unlock(&pool->lock);
            spin_while(pool->spin_ns, &pool->round, seen, 0);
            pthread_mutex_lock(&pool->lock);
        }
        while (pool->round == seen && !pool->stopping)
            pthread_cond_wait(&pool->start, &pool->lock);
        if (pool->stopping)
            break;
        seen = pool->round;
        pthread_mutex_unlock(&pool->lock);
        pool->fn(pool->arg, h->index);
        pthread_mutex_lock(&pool->lock);
        if (--pool->running == 0)
            pthread_cond_signal(&pool->done);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

worker_pool *workers_start(size_t n, void (*fn)(void *arg, size_t worker), void *arg)
{
    worker_pool *pool = xcalloc(1, sizeof *pool);
    if (pool == NULL)
        return NULL;
    const char *spin_us = getenv("SLUICE_SPIN_US");
    pool->spin_ns = spin_us ? atol(spin_us) * 1000 : SPIN_NS;
    pool->n = n ? n : 1;
    pool->fn = fn;
    pool->arg = arg;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->start, NULL);
    pthread_cond_init(&pool->done, NULL);
    pool->threads = xcalloc(pool->n, sizeof *pool->threads);
    pool->helpers = xcalloc(pool->n, sizeof *pool->helpers);
    if (pool->threads == NULL || pool->helpers == NULL) {
        workers_stop(pool);
        return NULL;
    }
    for (size_t i = 1; i < pool->n; i++) {
        pool->helpers[i] = (struct helper){pool, i};
        if (pthread_create(&pool->threads[i], NULL, helper_main, &pool->helpers[i]) != 0) {
            pool->n = i; /* stop the ones started */
            workers_stop(pool);
            return NULL;
        }
    }
    return pool;
}

void workers_begin(worker_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->running = pool->n - 1;
    pool->round++;
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->lock);
}

void workers_round(worker_pool *pool)
{
    workers_begin(pool);
    workers_join(pool);
}

void workers_join(worker_pool *pool)
{
    pool->fn(pool->arg, 0);
    spin_while(pool->spin_ns, &pool->running, 0, 1);
    pthread_mutex_lock(&pool->lock);
    while (pool->running > 0)
        pthread_cond_wait(&pool->done, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
}

void workers_stop(worker_pool *pool)
{
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->lock);
    for (size_t i = 1; i < pool->n && pool->threads; i++)
        pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->start);
    pthread_cond_destroy(&pool->done);
    free(pool->threads);
    free(pool->helpers);
    free(pool);
}
