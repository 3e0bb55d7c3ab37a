/* memory_limit: a memory budget per pipeline, enforced by backpressure.
 *
 * What counts is the operators' state as they report it themselves (their
 * `state.bytes` gauges: dedup's keys, open windows, open sessions and users'
 * running averages), summed over every step and task: it is what grows with
 * the input, where the engine's own buffers are bounded by the batch size.
 * Above the limit the source is not polled: the pipeline keeps running its
 * timers, idleness and checkpoints, and state that drains with wall time
 * (a plugin's timer) lets reading resume. Kafka then simply holds
 * the unread input (consumer lag grows), as in Flink or Kafka Streams under
 * backpressure. If the state does not shrink at all for MEMORY_WAIT_MS while
 * paused, nothing will make it (the watermark does not move without input):
 * the input does not fit, and the run fails saying so, instead of growing
 * until the machine runs out. */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "pipeline.h"

#define MEMORY_WAIT_MS 10000

static int64_t state_bytes(const pipeline *p)
{
    int64_t total = 0;
    for (size_t i = 0; i < p->nsteps; i++)
        for (size_t n = 0; n < step_instances(p, i); n++) {
            const step *s = step_instance((pipeline *)p, i, n);
            for (size_t c = 0; c < s->ncounters; c++)
                if (strcmp(s->counters[c]->name, "state.bytes") == 0)
                    total += s->counters[c]->value;
        }
    return total;
}

static double mib(int64_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

int memory_budget_pause(pipeline *p, int64_t now)
{
    int64_t limit = p->def->memory_limit;
    if (limit <= 0)
        return 0;
    int64_t bytes = state_bytes(p);
    step *src = &p->steps[p->source];
    step_counter(src, "memory.state_bytes")->value = bytes;
    step_counter(src, "memory.paused")->value = bytes > limit;
    if (bytes <= limit) {
        if (p->memory_paused_since)
            log_msg(SLUICE_LOG_INFO, p->def->name, "memory_limit: state down to %.1f MiB: reading resumes",
                    mib(bytes));
        p->memory_paused_since = 0;
        return 0;
    }
    if (p->memory_paused_since == 0 || bytes < p->memory_lowest) {
        if (p->memory_paused_since == 0) {
            log_msg(SLUICE_LOG_WARN, p->def->name,
                    "memory_limit: operator state is %.1f MiB, over the limit of %.1f MiB: the source pauses "
                    "until closing windows and sessions bring it under",
                    mib(bytes), mib(limit));
            step_counter(src, "memory.pauses")->value++;
        }
        p->memory_paused_since = now; /* progress: wait again */
        p->memory_lowest = bytes;
    } else if (now - p->memory_paused_since >= MEMORY_WAIT_MS) {
        pipeline_fail(p, p->def->name,
                      "memory_limit: operator state is %.1f MiB and has not shrunk in %d s with the source "
                      "paused: the input does not fit in %.1f MiB. Raise memory_limit, or keep less state "
                      "(a shorter window, session gap or dedup ttl, or more instances sharing the input)",
                      mib(bytes), MEMORY_WAIT_MS / 1000, mib(limit));
    }
    return 1;
}
