/* What the plugin under test emitted, per output, as the JSON a file sink
 * would write: kept as text so a test compares what a user would see. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "json_scan.h"

static harness_output *output_named(sluice_harness *h, const char *name, int create)
{
    if (name == NULL)
        name = "main";
    for (size_t i = 0; i < h->nouts; i++)
        if (strcmp(h->outs[i].name, name) == 0)
            return &h->outs[i];
    if (!create)
        return NULL;
    harness_output *grown = realloc(h->outs, (h->nouts + 1) * sizeof *grown);
    if (grown == NULL)
        abort();
    h->outs = grown;
    harness_output *o = &h->outs[h->nouts++];
    memset(o, 0, sizeof *o);
    o->name = strdup(name);
    return o;
}

static void output_add(harness_output *o, sluice_str json, const sluice_record *rec)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 16;
        o->records = realloc(o->records, o->cap * sizeof *o->records);
        o->keys = realloc(o->keys, o->cap * sizeof *o->keys);
        o->parsed = realloc(o->parsed, o->cap * sizeof *o->parsed);
        if (o->records == NULL || o->keys == NULL || o->parsed == NULL)
            abort();
    }
    o->records[o->n] = strndup(json.ptr, json.len);
    o->keys[o->n] = rec->key ? strndup(rec->key, rec->key_len) : NULL;
    o->parsed[o->n++] = NULL;
}

void harness_capture(sluice_harness *h)
{
    step *s = &h->s;
    for (size_t k = 0; k < s->nports; k++) {
        item_vec *q = &s->ports[k].queue;
        harness_output *o = NULL;
        for (size_t i = 0; i < q->n; i++) {
            if (q->v[i].rec == NULL)
                continue;
            if (o == NULL)
                o = output_named(h, s->ports[k].name, 1);
            output_add(o, json_write_record(q->v[i].rec, &h->p.tick_arena), q->v[i].rec);
        }
        q->n = 0;
    }
}

static void output_clear(harness_output *o)
{
    for (size_t i = 0; i < o->n; i++) {
        free(o->records[i]);
        free(o->keys[i]);
        json_decref(o->parsed[i]);
    }
    for (size_t i = 0; i < o->nstrings; i++)
        free(o->strings[i]);
    free(o->strings);
    o->strings = NULL;
    o->n = o->nstrings = 0;
}

void harness_outputs_free(sluice_harness *h)
{
    for (size_t i = 0; i < h->nouts; i++) {
        output_clear(&h->outs[i]);
        free(h->outs[i].records);
        free(h->outs[i].keys);
        free(h->outs[i].parsed);
        free(h->outs[i].name);
    }
    free(h->outs);
    h->outs = NULL;
    h->nouts = 0;
    free(h->text);
    h->text = NULL;
}

void sluice_harness_clear(sluice_harness *h)
{
    sluice_harness_run(h);
    for (size_t i = 0; i < h->nouts; i++)
        output_clear(&h->outs[i]);
}

size_t sluice_harness_count(sluice_harness *h, const char *output)
{
    sluice_harness_run(h);
    const harness_output *o = output_named(h, output, 0);
    return o ? o->n : 0;
}

const char *sluice_harness_record(sluice_harness *h, const char *output, size_t i)
{
    sluice_harness_run(h);
    const harness_output *o = output_named(h, output, 0);
    return o && i < o->n ? o->records[i] : NULL;
}

const char *sluice_harness_key(sluice_harness *h, const char *output, size_t i)
{
    sluice_harness_run(h);
    const harness_output *o = output_named(h, output, 0);
    return o && i < o->n ? o->keys[i] : NULL;
}

const char *sluice_harness_field(sluice_harness *h, const char *output, size_t i, const char *field)
{
    sluice_harness_run(h);
    harness_output *o = output_named(h, output, 0);
    if (o == NULL || i >= o->n)
        return NULL;
    if (o->parsed[i] == NULL)
        o->parsed[i] = json_loads(o->records[i], JSON_DECODE_ANY, NULL);
    json_t *v = json_object_get(o->parsed[i], field);
    if (v == NULL)
        return NULL;
    if (json_is_string(v))
        return json_string_value(v);
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    char **grown = realloc(o->strings, (o->nstrings + 1) * sizeof *grown);
    if (text == NULL || grown == NULL)
        abort();
    o->strings = grown;
    o->strings[o->nstrings++] = text;
    return text;
}

const char *sluice_harness_output_text(sluice_harness *h, const char *output)
{
    sluice_harness_run(h);
    const harness_output *o = output_named(h, output, 0);
    size_t len = 0;
    for (size_t i = 0; o && i < o->n; i++)
        len += strlen(o->records[i]) + 1;
    free(h->text);
    h->text = malloc(len + 1);
    if (h->text == NULL)
        abort();
    size_t at = 0;
    for (size_t i = 0; o && i < o->n; i++) {
        size_t n = strlen(o->records[i]);
        memcpy(h->text + at, o->records[i], n);
        h->text[at + n] = '\n';
        at += n + 1;
    }
    h->text[at] = '\0';
    return h->text;
}

int64_t sluice_harness_counter(sluice_harness *h, const char *name)
{
    sluice_harness_run(h);
    for (size_t k = 0; k < h->s.ncounters; k++)
        if (strcmp(h->s.counters[k]->name, name) == 0)
            return h->s.counters[k]->value;
    return 0;
}
