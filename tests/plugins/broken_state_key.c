/* Refused: an operator declaring a state key this engine does not know (ABI 1.2). */
#include <sluice/plugin.h>

#include "do_nothing_hooks.h"

static const sluice_plugin descriptor = {
    .struct_size = sizeof(sluice_plugin),
    .abi_version = SLUICE_ABI_VERSION,
    .name = "future_key",
    .kind = SLUICE_KIND_OPERATOR,
    .state_key = (sluice_state_key)99,
    .version = "1.0.0",
    .create = create,
    .destroy = destroy,
    .process = process,
};

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &descriptor; }
