/* Expected values against received records (test_expect.h). */
#include "test_expect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *scalar_to_json(const cfg_node *n)
{
    const char *s = n->scalar;
    if (n->quoted)
        return json_string(s);
    if (!*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0)
        return json_null();
    if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
        return json_boolean(s[0] == 't');
    char *end;
    long long i = strtoll(s, &end, 10);
    if (*end == '\0')
        return json_integer(i);
    double d = strtod(s, &end);
    if (*end == '\0')
        return json_real(d);
    return json_string(s);
}

json_t *test_yaml_to_json(const cfg_node *n)
{
    if (n->kind == CFG_SCALAR)
        return scalar_to_json(n);
    json_t *out = n->kind == CFG_MAP ? json_object() : json_array();
    for (size_t i = 0; i < n->count; i++) {
        json_t *v = test_yaml_to_json(n->items[i]);
        if (n->kind == CFG_MAP)
            json_object_set_new(out, n->keys[i], v);
        else
            json_array_append_new(out, v);
    }
    return out;
}

static char *text_of(const json_t *v)
{
    return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_PRESERVE_ORDER);
}

/* want (YAML) against got (JSON) at path ("reason", "top.0.url"). */
static int value_matches(const cfg_node *want, const json_t *got, const char *path, char *why, size_t whysize)
{
    if (want->kind == CFG_MAP) {
        if (!json_is_object(got)) {
            snprintf(why, whysize, "%s%sis not an object", path, *path ? " " : "");
            return -1;
        }
        for (size_t i = 0; i < want->count; i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", want->keys[i]);
            const json_t *v = json_object_get(got, want->keys[i]);
            if (v == NULL) {
                snprintf(why, whysize, "field '%s' is missing", sub);
                return -1;
            }
            if (value_matches(want->items[i], v, sub, why, whysize) != 0)
                return -1;
        }
        return 0;
    }
    if (want->kind == CFG_LIST) {
        if (!json_is_array(got) || json_array_size(got) != want->count) {
            char *g = text_of(got);
            snprintf(why, whysize, "field '%s' is %s, expected a list of %zu", path, g ? g : "?",
                     want->count);
            free(g);
            return -1;
        }
        for (size_t i = 0; i < want->count; i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.%zu", path, i);
            if (value_matches(want->items[i], json_array_get(got, i), sub, why, whysize) != 0)
                return -1;
        }
        return 0;
    }
    json_t *w = scalar_to_json(want);
    int same = json_equal(w, (json_t *)got);
    if (!same && json_is_number(w) && json_is_number(got))
        same = json_number_value(w) == json_number_value(got);
    if (!same && json_is_string(got) && !want->quoted) /* user_id: 7 for "7" */
        same = strcmp(json_string_value(got), want->scalar) == 0;
    if (!same) {
        char *g = text_of(got), *e = text_of(w);
        snprintf(why, whysize, "field '%s' is %s, expected %s", path, g ? g : "?", e ? e : "?");
        free(g);
        free(e);
    }
    json_decref(w);
    return same ? 0 : -1;
}

int test_record_matches(const cfg_node *want, const char *got, char *why, size_t whysize)
{
    json_t *g = json_loads(got, JSON_DECODE_ANY, NULL);
    if (g == NULL) {
        snprintf(why, whysize, "the record is not JSON");
        return -1;
    }
    int rc;
    if (want->kind == CFG_SCALAR) {
        json_t *w = json_loads(want->scalar, JSON_DECODE_ANY, NULL);
        rc = w && json_equal(w, g) ? 0 : -1;
        if (rc != 0)
            snprintf(why, whysize, w ? "the record differs" : "the expected record is not JSON");
        json_decref(w);
    } else {
        rc = value_matches(want, g, "", why, whysize);
    }
    json_decref(g);
    return rc;
}
