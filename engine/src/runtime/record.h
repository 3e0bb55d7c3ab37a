/* The engine's record: the layout behind the opaque sluice_record. A decoded
 * event keeps its raw bytes and a list of top-level fields whose strings are
 * views into those bytes (or into the tick's arena when unescaped), so JSON is
 * parsed once per event and an unchanged record is written back verbatim. */
#ifndef SLUICE_RECORD_H
#define SLUICE_RECORD_H

#include <stdint.h>

#include "arena.h"
#include "sluice/plugin.h"

typedef struct field {
    const char *name;
    uint32_t name_len;
    uint8_t type; /* sluice_type */
    uint32_t len; /* of text */
    /* STRING: the decoded value (UTF-8, unescaped). INT and DOUBLE: the number
     * as written in JSON (or formatted when set by a plugin). JSON: the text. */
    const char *text;
    union {
        int64_t i;
        double d;
        int b;
    } v;
} field;

struct sluice_record {
    int64_t time;      /* event time, SLUICE_TIME_MIN when none */
    int64_t watermark; /* in force after this record */
    /* Partition tasks (tasks.c): a source event's own partition's watermark
     * after it, and the pipeline's; SLUICE_TIME_MIN for operators' records. */
    int64_t partition_wm, pipeline_wm;
    uint64_t seq;    /* position in the source's stream: orders fan-in */
    const char *raw; /* original message bytes (arena), may be NULL */
    uint32_t raw_len;
    uint32_t origin_len;
    const char *origin;
    const char *key;
    uint32_t key_len;
    uint8_t modified;     /* fields no longer match raw: encode from fields */
    uint8_t role_present; /* bit per sluice_role */
    int32_t partition;
    uint32_t json_len; /* of json, below (here: it fills what would be padding) */
    sluice_str roles[SLUICE_ROLE_COUNT_];
    uint64_t role_hash[SLUICE_ROLE_COUNT_];
    field *fields;
    uint32_t nfields, cap;
    arena *arena; /* where this record's memory lives */
    /* Its JSON, encoded ahead on the thread of the task that made it
     * (tasks_encode_ahead in tasks.c), or NULL; any change to a field
     * drops it. */
    const char *json;
    /* Emitted in a task: the flag of the port it was emitted on, raised
     * when its JSON is asked for, so later records are encoded ahead. */
    _Atomic unsigned char *json_wanted;
};

/* A fresh, empty record in arena a. */
sluice_record *record_new(arena *a);
/* Append a field (name and text are NOT copied: they must live in the arena
 * or in the record's raw bytes). Returns the new field. */
field *record_add_field(sluice_record *rec, const char *name, uint32_t name_len);
/* The last field with this name, or NULL (later duplicates win, as in jansson). */
const field *record_find(const sluice_record *rec, const char *name, size_t name_len);
/* Set (replace or append) a field, copying name into the arena. */
field *record_set(sluice_record *rec, const char *name);

/* 64-bit hash of bytes, the one used for roles (stable within a process). */
uint64_t record_hash_bytes(const void *p, size_t n);

#endif
