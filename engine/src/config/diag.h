/* Diagnostics: errors collected with their position in a pipeline file and
 * printed as `file:line:column: error: message`, so that `sluice check` can
 * report every problem at once rather than the first. */
#ifndef SLUICE_DIAG_H
#define SLUICE_DIAG_H

#include <stddef.h>
#include <stdio.h>

/* A position in a source file; line and column are 1-based, 0 = unknown. */
typedef struct src_pos {
    const char *file; /* borrowed; lives as long as the pipeline_def */
    int line;
    int column;
} src_pos;

typedef struct diag {
    src_pos pos;
    char *message; /* owned */
} diag;

typedef struct diag_list {
    diag *items;
    size_t count, cap;
} diag_list;

void diag_init(diag_list *d);
void diag_free(diag_list *d);
/* Add an error at pos (printf-style message, no trailing newline). */
void diag_add(diag_list *d, src_pos pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Print each as "file:line:column: error: message\n" (positions left out when unknown). */
void diag_print(const diag_list *d, FILE *out);

#endif
