#include "deadletter.h"

#include <string.h>

static void put_string(sluice_record *rec, const char *name, const char *p, size_t n)
{
    field *f = record_add_field(rec, name, (uint32_t)strlen(name));
    f->type = SLUICE_TYPE_STRING;
    f->text = n ? arena_memdup(rec->arena, p, n) : "";
    f->len = (uint32_t)n;
}

sluice_record *deadletter_make(arena *a, const char *reason, const char *detail, sluice_str origin,
                               sluice_str raw)
{
    sluice_record *rec = record_new(a);
    rec->modified = 1; /* written from its fields, never as raw bytes */
    put_string(rec, "reason", reason, strlen(reason));
    if (detail && *detail)
        put_string(rec, "detail", detail, strlen(detail));
    put_string(rec, "origin", origin.ptr ? origin.ptr : "", origin.len);
    size_t n = raw.len > DEADLETTER_RAW_MAX ? DEADLETTER_RAW_MAX : raw.len;
    put_string(rec, "raw", raw.ptr ? raw.ptr : "", n);
    return rec;
}
