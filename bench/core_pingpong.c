/* core_pingpong: how long a cache line takes to go from one core to another
 * and back (two threads pinned to cores 0 and 1 taking turns on one
 * atomic), the price of every record a worker thread hands to another. On
 * one socket's neighbouring cores it is some 50 to 100 ns; across chiplets,
 * or where a virtual machine's cores sit apart, several hundred.
 *
 *   core_pingpong [ROUNDS]   prints the mean round trip in nanoseconds */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setaffinity_np */
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static _Alignas(64) _Atomic long turn;
static long rounds = 1000000;

static int pin(int core)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(core, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *answer(void *arg)
{
    (void)arg;
    if (pin(1) != 0)
        return NULL;
    for (long i = 0; i < rounds; i++) {
        while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * i + 1)
            ;
        atomic_store_explicit(&turn, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        rounds = atol(argv[1]);
    pthread_t other;
    if (rounds <= 0 || pin(0) != 0 || pthread_create(&other, NULL, answer, NULL) != 0) {
        fprintf(stderr, "core_pingpong: needs cores 0 and 1\n");
        return 1;
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < rounds; i++) {
        atomic_store_explicit(&turn, 2 * i + 1, memory_order_release);
        while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * i + 2)
            ;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    pthread_join(other, NULL);
    printf("%.0f\n",
           ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)rounds);
    return 0;
}
