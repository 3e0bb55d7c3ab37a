/* Pipeline snapshots in the Prometheus text exposition format (0.0.4). */
#ifndef SLUICE_PROM_H
#define SLUICE_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"

/* Render snapshots (NULL entries skipped) as one exposition, every family
 * once with its HELP and TYPE lines; now_ms (wall clock) is what watermark
 * lag is measured against. Returns a malloc'd text (its length in *len),
 * NULL when out of memory.
 *
 * Step counters are named by what they count: the engine's own (`in`,
 * `out`, a source's `read` and `accepted`, `rejected.<reason>`), the state
 * gauges plugins set (`state.keys`, `state.bytes`, `state.<other>`), Kafka
 * figures (`kafka.lag.<topic>/<partition>`, `kafka.queue.messages`); any other
 * plugin counter is sluice_plugin_counted_total{name="<name>"}, or
 * sluice_plugin_value{name="<name>"} when set as a gauge. docs/metrics.md
 * lists them. */
char *prom_render(stats_snapshot *const *snaps, size_t n, int64_t now_ms, size_t *len);

#endif
