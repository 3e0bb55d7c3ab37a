/* Refused: the entry function returns no descriptor. */
#include <sluice/plugin.h>

SLUICE_PLUGIN_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return NULL; }
