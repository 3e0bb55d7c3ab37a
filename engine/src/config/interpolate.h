/* ${VAR} interpolation of pipeline scalars (docs/pipelines.md). */
#ifndef SLUICE_INTERPOLATE_H
#define SLUICE_INTERPOLATE_H

/* Where variables come from: getenv-like, NULL when unset. Tests pass their
 * own so they need not touch the process environment. */
typedef const char *(*interp_lookup_fn)(void *ud, const char *name);

/* Expand `text`:
 *   ${VAR}          the value; an error when VAR is unset
 *   ${VAR:-default} the default when VAR is unset or empty (the default may
 *                   itself use ${...})
 *   ${VAR:?message} an error with that message when VAR is unset or empty
 *   $$              a literal $
 * A `$` followed by anything else is kept as is. Returns the malloc'd result,
 * or NULL with *error set to a malloc'd message (unterminated `${`, bad name,
 * unset variable). lookup NULL means getenv. */
char *interpolate(const char *text, interp_lookup_fn lookup, void *ud, char **error);

#endif
