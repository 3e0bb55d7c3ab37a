/* "Did you mean ...?": the closest candidate to a misspelt word. */
#ifndef SLUICE_SUGGEST_H
#define SLUICE_SUGGEST_H

#include <stddef.h>

/* The candidate nearest to `word` by edit distance (insertions, deletions,
 * substitutions and swaps of adjacent letters; case-insensitive), when it is
 * within max(1, strlen(word) / 3) edits; else NULL. NULL candidates are
 * skipped. Returns one of the candidate pointers (borrowed). */
const char *suggest_closest(const char *word, const char *const *candidates, size_t n);

/* The edit distance itself (exposed for tests). */
size_t suggest_distance(const char *a, const char *b);

#endif
