/* Diagnostics: a growable list of positioned error messages. */
#include "diag.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void diag_init(diag_list *d) { memset(d, 0, sizeof *d); }

void diag_free(diag_list *d)
{
    for (size_t i = 0; i < d->count; i++)
        free(d->items[i].message);
    free(d->items);
    diag_init(d);
}

void diag_add(diag_list *d, src_pos pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *message = NULL;
    int n = vasprintf(&message, fmt, ap);
    va_end(ap);
    if (n < 0)
        message = NULL;
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        diag *items = xrealloc(d->items, cap * sizeof *items);
        if (!items) {
            free(message);
            return; /* out of memory: losing a diagnostic beats crashing */
        }
        d->items = items;
        d->cap = cap;
    }
    d->items[d->count].pos = pos;
    d->items[d->count].message = message ? message : xstrdup("(out of memory)");
    d->count++;
}

void diag_print(const diag_list *d, FILE *out)
{
    for (size_t i = 0; i < d->count; i++) {
        const src_pos *p = &d->items[i].pos;
        if (p->file && p->line > 0)
            fprintf(out, "%s:%d:%d: ", p->file, p->line, p->column > 0 ? p->column : 1);
        else if (p->file)
            fprintf(out, "%s: ", p->file);
        fprintf(out, "error: %s\n", d->items[i].message ? d->items[i].message : "");
    }
}
