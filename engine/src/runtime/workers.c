#include "workers.h"
#include "xalloc.h"

#include <pthread.h>
#include <stdlib.h>

struct worker_pool {
    size_t n;
    void (*fn)(void *arg, size_t worker);
    void *arg;
    pthread_mutex_t lock;
    pthread_cond_t start, done;
    unsigned long round; /* bumped to start a round */
    size_t running;      /* helpers still in the current round */
    int stopping;
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

void workers_round(worker_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->running = pool->n - 1;
    pool->round++;
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->lock);
    pool->fn(pool->arg, 0);
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
