#include "event_settings.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_yaml.h"
#include "duration.h"
#include "suggest.h"

static const char *const event_keys[] = {"fields", "max_event_bytes", "max_future", "max_out_of_order",
                                         "idle_timeout"};
static const char *const field_keys[] = {"user", "url", "time", "event_id"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void unknown_key(diag_list *d, src_pos pos, const char *where, const char *key,
                        const char *const *known, size_t n)
{
    const char *near = suggest_closest(key, known, n);
    if (near)
        diag_add(d, pos, "unknown key '%s' in %s; did you mean '%s'?", key, where, near);
    else
        diag_add(d, pos, "unknown key '%s' in %s", key, where);
}

static const char *scalar(const cfg_node *n, const char *what, diag_list *d)
{
    if (n->kind != CFG_SCALAR) {
        diag_add(d, n->pos, "%s must be a single value", what);
        return NULL;
    }
    return n->scalar;
}

/* A duration, or -1 for "off" when allowed. */
static int duration_value(const cfg_node *n, const char *what, int allow_off, int64_t *out, diag_list *d)
{
    const char *s = scalar(n, what, d);
    if (s == NULL)
        return -1;
    if (allow_off && strcmp(s, "off") == 0) {
        *out = -1;
        return 0;
    }
    if (duration_parse_ms(s, out) != 0) {
        char origin[512];
        cfg_origin(n, 0, origin, sizeof origin);
        diag_add(d, n->pos, "%s: '%s' is not a duration (like 250ms, 5s, 30m, 1h, 1d%s)%s", what, s,
                 allow_off ? ", or off" : "", origin);
        return -1;
    }
    return 0;
}

int event_settings_parse(const cfg_node *node, event_settings *out, diag_list *d)
{
    size_t errors = d->count;
    memset(out, 0, sizeof *out);
    event_config_defaults(&out->decode);
    out->max_out_of_order_ms = 5000;
    out->idle_timeout_ms = 30000;
    if (node == NULL)
        return 0;
    if (node->kind == CFG_SCALAR) {
        if (strcmp(node->scalar, "raw") == 0) {
            out->raw = 1;
            return 0;
        }
        diag_add(d, node->pos, "event: expected a map of settings or the word 'raw', got '%s'", node->scalar);
        return -1;
    }
    if (node->kind != CFG_MAP) {
        diag_add(d, node->pos, "event: expected a map of settings or the word 'raw'");
        return -1;
    }
    for (size_t i = 0; i < node->count; i++) {
        const char *key = node->keys[i];
        const cfg_node *v = node->items[i];
        if (strcmp(key, "fields") == 0) {
            if (v->kind != CFG_MAP) {
                diag_add(d, v->pos, "event.fields must be a map like {user: user_id, url: url, time: ts}");
                continue;
            }
            for (size_t j = 0; j < v->count; j++) {
                const char *name = scalar(v->items[j], "a field name", d);
                if (name == NULL)
                    continue;
                if (name[0] == '\0')
                    diag_add(d, v->items[j]->pos, "event.fields.%s: the field name is empty", v->keys[j]);
                else if (strcmp(v->keys[j], "user") == 0)
                    out->decode.field_user = name;
                else if (strcmp(v->keys[j], "url") == 0)
                    out->decode.field_url = name;
                else if (strcmp(v->keys[j], "time") == 0)
                    out->decode.field_time = name;
                else if (strcmp(v->keys[j], "event_id") == 0)
                    out->decode.field_event_id = name;
                else
                    unknown_key(d, v->key_pos[j], "event.fields", v->keys[j], field_keys, COUNT(field_keys));
            }
        } else if (strcmp(key, "max_event_bytes") == 0) {
            const char *s = scalar(v, "event.max_event_bytes", d);
            if (s == NULL)
                continue;
            char *end;
            errno = 0;
            long long n = strtoll(s, &end, 10);
            if (errno || *s == '\0' || *end != '\0' || n < 1 || n > (1ll << 30))
                diag_add(d, v->pos, "event.max_event_bytes: '%s' is not a whole number from 1 to 1073741824",
                         s);
            else
                out->decode.max_event_bytes = (size_t)n;
        } else if (strcmp(key, "max_future") == 0) {
            duration_value(v, "event.max_future", 1, &out->decode.max_future_ms, d);
        } else if (strcmp(key, "max_out_of_order") == 0) {
            duration_value(v, "event.max_out_of_order", 0, &out->max_out_of_order_ms, d);
        } else if (strcmp(key, "idle_timeout") == 0) {
            duration_value(v, "event.idle_timeout", 1, &out->idle_timeout_ms, d);
        } else {
            unknown_key(d, node->key_pos[i], "event", key, event_keys, COUNT(event_keys));
        }
    }
    return d->count == errors ? 0 : -1;
}
