/* The `event:` section of a pipeline's source step: how messages become
 * click events (field names, limits) and how event time becomes watermarks. */
#ifndef SLUICE_EVENT_SETTINGS_H
#define SLUICE_EVENT_SETTINGS_H

#include "diag.h"
#include "event_decoder.h"
#include "pipeline_def.h"

typedef struct event_settings {
    int raw; /* `event: raw`: messages pass undecoded */
    event_config decode;
    int64_t max_out_of_order_ms; /* default 5s */
    int64_t idle_timeout_ms;     /* default 30s; -1 = off */
} event_settings;

/* Fill `out` from the node (NULL = all defaults); errors go to diags.
 * Returns 0 when valid. The strings in out->decode point into the node. */
int event_settings_parse(const cfg_node *node, event_settings *out, diag_list *diags);

#endif
