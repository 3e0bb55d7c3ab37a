/* Refused: exports no sluice_plugin_entry. */
#include <sluice/plugin.h>

SLUICE_PLUGIN_EXPORT int not_a_sluice_plugin(void) { return 42; }
