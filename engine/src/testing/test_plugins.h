/* The two plugins `sluice test` puts in a pipeline under test: a source
 * that feeds the test's input events, and a sink that keeps what reaches
 * it. Linked into the engine, vetted like any plugin (plugin_from_descriptor). */
#ifndef SLUICE_TEST_PLUGINS_H
#define SLUICE_TEST_PLUGINS_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/plugin.h"

/* The source's instance: the runner fills it after create. Borrowed texts.
 * Item i is an event (payloads[i]) or, when payloads[i] is NULL, a
 * watermark step to watermarks[i]. */
typedef struct test_feed {
    const char **payloads;
    const char **origins; /* "file:line" of each input event */
    const int64_t *watermarks;
    size_t n, pos;
} test_feed;

/* The sink's instance: every record it received, as JSON text (owned). */
typedef struct test_capture {
    char **records;
    size_t n, cap;
} test_capture;

extern const sluice_plugin test_feed_plugin;
extern const sluice_plugin test_capture_plugin;

#endif
