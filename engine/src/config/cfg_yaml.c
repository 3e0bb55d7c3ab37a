/* YAML text -> cfg_node tree, from libyaml's events: every node keeps its
 * position, aliases are expanded into copies, `<<` merge keys applied, and
 * scalar values (not keys) interpolated. */
#include "cfg_yaml.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Aliases are expanded into copies; this bounds "billion laughs" documents. */
#define CFG_MAX_NODES 100000
/* Freeing and copying recurse; a sane pipeline nests a handful of levels. */
#define CFG_MAX_DEPTH 200

/* ------------------------------------------------------------------------ */
/* Nodes                                                                     */

const char *cfg_kind_name(cfg_kind kind)
{
    switch (kind) {
    case CFG_SCALAR:
        return "a scalar";
    case CFG_MAP:
        return "a map";
    case CFG_LIST:
        return "a list";
    }
    return "a node";
}

const cfg_node *cfg_map_get(const cfg_node *map, const char *key)
{
    if (!map || map->kind != CFG_MAP)
        return NULL;
    for (size_t i = 0; i < map->count; i++)
        if (strcmp(map->keys[i], key) == 0)
            return map->items[i];
    return NULL;
}

void cfg_free(cfg_node *n)
{
    if (!n)
        return;
    free(n->scalar);
    free(n->written);
    for (size_t i = 0; i < n->count; i++) {
        if (n->keys)
            free(n->keys[i]);
        cfg_free(n->items[i]);
    }
    free(n->keys);
    free(n->key_pos);
    free(n->items);
    free(n);
}

void cfg_origin(const cfg_node *n, int secret, char *buf, size_t size)
{
    if (size == 0)
        return;
    buf[0] = '\0';
    if (n == NULL || n->written == NULL)
        return;
    /* The names of ${NAME...} references; $$ is a literal dollar. */
    char names[256] = "";
    size_t used = 0, count = 0;
    for (const char *p = n->written; *p; p++) {
        if (p[0] == '$' && p[1] == '$') {
            p++;
            continue;
        }
        if (p[0] != '$' || p[1] != '{')
            continue;
        const char *name = p + 2;
        size_t len = strcspn(name, ":}");
        int w = snprintf(names + used, sizeof names - used, "%s$%.*s", count ? " and " : "", (int)len, name);
        if (w < 0 || (size_t)w >= sizeof names - used)
            break;
        used += (size_t)w;
        count++;
    }
    if (count == 0)
        return;
    if (secret)
        snprintf(buf, size, " (from %s, interpolated here)", names);
    else
        snprintf(buf, size, " (from %s, interpolated here into '%s')", names, n->written);
}

/* Append an entry (key NULL for lists); takes ownership of key and child. */
static int cfg_append(cfg_node *n, char *key, src_pos key_pos, cfg_node *child)
{
    size_t cap = n->count + 1;
    cfg_node **items = xrealloc(n->items, cap * sizeof *items);
    if (!items)
        return -1;
    n->items = items;
    if (n->kind == CFG_MAP) {
        char **keys = xrealloc(n->keys, cap * sizeof *keys);
        if (!keys)
            return -1;
        n->keys = keys;
        src_pos *kp = xrealloc(n->key_pos, cap * sizeof *kp);
        if (!kp)
            return -1;
        n->key_pos = kp;
        n->keys[n->count] = key;
        n->key_pos[n->count] = key_pos;
    }
    n->items[n->count++] = child;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Building the tree from libyaml events                                     */

typedef struct frame {
    cfg_node *node;
    char *key; /* maps: the key waiting for its value */
    src_pos key_pos;
    int have_key;
    int drop_value; /* maps: the key was bad; skip its value */
} frame;

typedef struct anchor {
    char *name;
    cfg_node *node;
} anchor;

typedef struct builder {
    const char *file;
    diag_list *diags;
    int interpolate; /* scalar values go through interpolate() */
    interp_lookup_fn lookup;
    void *ud;
    frame *stack;
    size_t depth, cap;
    anchor *anchors;
    size_t nanchors;
    size_t nodes;
    cfg_node **graveyard; /* dropped nodes, freed last: an anchor may point at them */
    size_t ngraveyard;
    cfg_node *root;
    int failed;       /* out of memory or too many nodes: stop */
    const char *text; /* the whole input, for hints on syntax errors (may be NULL) */
    size_t text_len;
} builder;

static src_pos mark_pos(const builder *b, yaml_mark_t m)
{
    return (src_pos){b->file, (int)m.line + 1, (int)m.column + 1};
}

static cfg_node *node_new(builder *b, cfg_kind kind, src_pos pos)
{
    if (++b->nodes > CFG_MAX_NODES) {
        if (!b->failed)
            diag_add(b->diags, pos, "document too large (more than %d nodes after expanding aliases)",
                     CFG_MAX_NODES);
        b->failed = 1;
        return NULL;
    }
    cfg_node *n = xcalloc(1, sizeof *n);
    if (!n) {
        b->failed = 1;
        return NULL;
    }
    n->kind = kind;
    n->pos = pos;
    return n;
}

static void discard(builder *b, cfg_node *n)
{
    cfg_node **g = xrealloc(b->graveyard, (b->ngraveyard + 1) * sizeof *g);
    if (!g) {
        b->failed = 1; /* leaking beats a dangling anchor */
        return;
    }
    b->graveyard = g;
    b->graveyard[b->ngraveyard++] = n;
}

static cfg_node *cfg_copy(builder *b, const cfg_node *src)
{
    cfg_node *n = node_new(b, src->kind, src->pos);
    if (!n)
        return NULL;
    n->quoted = src->quoted;
    if (src->scalar && !(n->scalar = xstrdup(src->scalar)))
        goto fail;
    if (src->written && !(n->written = xstrdup(src->written)))
        goto fail;
    for (size_t i = 0; i < src->count; i++) {
        char *key = NULL;
        if (src->kind == CFG_MAP && !(key = xstrdup(src->keys[i])))
            goto fail;
        cfg_node *child = cfg_copy(b, src->items[i]);
        if (!child || cfg_append(n, key, src->kind == CFG_MAP ? src->key_pos[i] : src->pos, child) < 0) {
            free(key);
            cfg_free(child);
            goto fail;
        }
    }
    return n;
fail:
    b->failed = 1;
    cfg_free(n);
    return NULL;
}

static void remember_anchor(builder *b, const yaml_char_t *name, cfg_node *node)
{
    if (!name)
        return;
    anchor *a = xrealloc(b->anchors, (b->nanchors + 1) * sizeof *a);
    if (!a || !(name = (const yaml_char_t *)xstrdup((const char *)name))) {
        if (a)
            b->anchors = a;
        b->failed = 1;
        return;
    }
    b->anchors = a;
    /* A redefined anchor shadows the earlier one: lookups search backwards. */
    b->anchors[b->nanchors++] = (anchor){(char *)name, node};
}

/* Place a finished node: document root, list item, map key or map value. */
static void add_node(builder *b, cfg_node *n)
{
    if (b->depth == 0) {
        b->root = n;
        return;
    }
    frame *f = &b->stack[b->depth - 1];
    if (f->node->kind == CFG_LIST) {
        if (cfg_append(f->node, NULL, n->pos, n) < 0) {
            discard(b, n);
            b->failed = 1;
        }
        return;
    }
    if (!f->have_key) {
        f->have_key = 1;
        f->drop_value = 0;
        f->key_pos = n->pos;
        if (n->kind != CFG_SCALAR) {
            diag_add(b->diags, n->pos, "map keys must be plain text, not %s", cfg_kind_name(n->kind));
            f->drop_value = 1;
            discard(b, n);
            return;
        }
        for (size_t i = 0; i < f->node->count; i++) {
            if (strcmp(f->node->keys[i], n->scalar) == 0 && strcmp(n->scalar, "<<") != 0) {
                diag_add(b->diags, n->pos, "duplicate key '%s' (first given at line %d)", n->scalar,
                         f->node->key_pos[i].line);
                f->drop_value = 1;
                break;
            }
        }
        /* A copy: the node may carry an anchor, and an alias to it later
         * copies its text. */
        f->key = strdup(n->scalar);
        if (!f->key) {
            b->failed = 1;
            f->drop_value = 1;
        }
        discard(b, n);
        return;
    }
    f->have_key = 0;
    if (f->drop_value) {
        free(f->key);
        discard(b, n);
    } else if (cfg_append(f->node, f->key, f->key_pos, n) < 0) {
        free(f->key);
        discard(b, n);
        b->failed = 1;
    }
    f->key = NULL;
}

static int is_map_key_next(const builder *b)
{
    if (b->depth == 0)
        return 0;
    const frame *f = &b->stack[b->depth - 1];
    return f->node->kind == CFG_MAP && !f->have_key;
}

static void on_scalar(builder *b, const yaml_event_t *ev)
{
    src_pos pos = mark_pos(b, ev->start_mark);
    const char *text = (const char *)ev->data.scalar.value;
    int quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                 ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    cfg_node *n = node_new(b, CFG_SCALAR, pos);
    if (!n)
        return;
    n->quoted = quoted;
    if (is_map_key_next(b) || !b->interpolate) {
        n->scalar = xstrdup(text); /* keys are never interpolated */
    } else {
        char *error = NULL;
        n->scalar = interpolate(text, b->lookup, b->ud, &error);
        if (!n->scalar) {
            diag_add(b->diags, pos, "%s", error ? error : "out of memory");
            free(error);
            n->scalar = xstrdup(""); /* keep going to report further problems */
        } else if (strcmp(n->scalar, text) != 0 && !(n->written = xstrdup(text))) {
            b->failed = 1;
        }
    }
    if (!n->scalar) {
        cfg_free(n);
        b->failed = 1;
        return;
    }
    remember_anchor(b, ev->data.scalar.anchor, n);
    add_node(b, n);
}

static void on_alias(builder *b, const yaml_event_t *ev)
{
    src_pos pos = mark_pos(b, ev->start_mark);
    const char *name = (const char *)ev->data.alias.anchor;
    for (size_t i = b->nanchors; i-- > 0;) {
        if (strcmp(b->anchors[i].name, name) != 0)
            continue;
        for (size_t d = 0; d < b->depth; d++) {
            if (b->stack[d].node == b->anchors[i].node) {
                diag_add(b->diags, pos, "alias '*%s' refers to a node that contains it", name);
                b->failed = 1;
                return;
            }
        }
        cfg_node *copy = cfg_copy(b, b->anchors[i].node);
        if (copy) {
            copy->pos = pos;
            add_node(b, copy);
        }
        return;
    }
    /* Like a syntax error: what the document means is unknown from here. */
    diag_add(b->diags, pos, "unknown alias '*%s' (no anchor '&%s' before it)", name, name);
    b->failed = 1;
}

static void on_collection_start(builder *b, cfg_kind kind, const yaml_event_t *ev,
                                const yaml_char_t *anchor_name)
{
    if (b->depth >= CFG_MAX_DEPTH) {
        diag_add(b->diags, mark_pos(b, ev->start_mark), "nesting deeper than %d levels", CFG_MAX_DEPTH);
        b->failed = 1;
        return;
    }
    cfg_node *n = node_new(b, kind, mark_pos(b, ev->start_mark));
    if (!n)
        return;
    if (b->depth == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        frame *s = xrealloc(b->stack, cap * sizeof *s);
        if (!s) {
            cfg_free(n);
            b->failed = 1;
            return;
        }
        b->stack = s;
        b->cap = cap;
    }
    b->stack[b->depth++] = (frame){.node = n};
    remember_anchor(b, anchor_name, n);
}

/* `<<: *defaults` (or a list of them): copy in the merged maps' entries that
 * the map does not set itself, then drop the `<<` entries. */
static void apply_merge_keys(builder *b, cfg_node *map)
{
    size_t w = 0, n = map->count;
    cfg_node **merged = NULL;
    size_t nmerged = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(map->keys[i], "<<") != 0) {
            map->keys[w] = map->keys[i];
            map->key_pos[w] = map->key_pos[i];
            map->items[w++] = map->items[i];
            continue;
        }
        cfg_node *v = map->items[i];
        int ok = v->kind == CFG_MAP;
        if (v->kind == CFG_LIST) {
            ok = 1;
            for (size_t j = 0; j < v->count; j++)
                ok = ok && v->items[j]->kind == CFG_MAP;
        }
        if (!ok)
            diag_add(b->diags, v->pos, "'<<' merges a map or a list of maps, not %s", cfg_kind_name(v->kind));
        cfg_node **m = xrealloc(merged, (nmerged + 1) * sizeof *m);
        if (!m) {
            b->failed = 1;
            discard(b, v);
        } else {
            merged = m;
            merged[nmerged++] = ok ? v : NULL;
            if (!ok)
                discard(b, v);
        }
        free(map->keys[i]);
    }
    map->count = w;
    for (size_t k = 0; k < nmerged; k++) {
        cfg_node *v = merged[k];
        if (!v)
            continue;
        size_t nsrc = v->kind == CFG_MAP ? 1 : v->count;
        for (size_t s = 0; s < nsrc; s++) {
            const cfg_node *src = v->kind == CFG_MAP ? v : v->items[s];
            for (size_t e = 0; e < src->count; e++) {
                if (cfg_map_get(map, src->keys[e]))
                    continue; /* explicit keys (and earlier merges) win */
                char *key = xstrdup(src->keys[e]);
                cfg_node *copy = key ? cfg_copy(b, src->items[e]) : NULL;
                if (!copy || cfg_append(map, key, src->key_pos[e], copy) < 0) {
                    free(key);
                    cfg_free(copy);
                    b->failed = 1;
                }
            }
        }
        discard(b, v);
    }
    free(merged);
}

static void on_collection_end(builder *b)
{
    if (b->depth == 0)
        return;
    frame *f = &b->stack[--b->depth];
    cfg_node *n = f->node;
    free(f->key); /* only set if the map ended after a dropped key */
    if (n->kind == CFG_MAP)
        apply_merge_keys(b, n);
    add_node(b, n);
}

static void builder_free(builder *b)
{
    for (size_t i = 0; i < b->depth; i++) {
        free(b->stack[i].key);
        cfg_free(b->stack[i].node);
    }
    free(b->stack);
    for (size_t i = 0; i < b->nanchors; i++)
        free(b->anchors[i].name);
    free(b->anchors);
    for (size_t i = 0; i < b->ngraveyard; i++)
        cfg_free(b->graveyard[i]);
    free(b->graveyard);
}

/* Do the lines from `from`'s to `to`'s hold "${"? In a flow collection,
 * `path: ${OUT}/x` is a syntax error (`{` opens a map there), and libyaml's
 * message says nothing of why. */
static int holds_interpolation(const builder *b, yaml_mark_t from, yaml_mark_t to)
{
    if (b->text == NULL || from.index > to.index || to.index > b->text_len)
        return 0;
    size_t start = from.index, end = to.index;
    while (start > 0 && b->text[start - 1] != '\n')
        start--;
    while (end < b->text_len && b->text[end] != '\n')
        end++;
    for (size_t i = start; i + 1 < end; i++)
        if (b->text[i] == '$' && b->text[i + 1] == '{')
            return 1;
    return 0;
}

/* Read one YAML document into a tree; NULL after a syntax error. */
static cfg_node *parse_yaml(yaml_parser_t *p, builder b)
{
    const char *file = b.file;
    diag_list *diags = b.diags;
    int documents = 0, done = 0, syntax_error = 0;
    while (!done && !b.failed) {
        yaml_event_t ev;
        if (!yaml_parser_parse(p, &ev)) {
            src_pos pos = mark_pos(&b, p->problem_mark);
            const char *hint =
                holds_interpolation(&b, p->context ? p->context_mark : p->problem_mark, p->problem_mark)
                    ? "; a value holding ${...} inside {...} or [...] must be quoted "
                      "(path: \"${OUT}/x.jsonl\") or the map written in block style, "
                      "one key per line"
                    : "";
            if (p->context)
                diag_add(diags, pos, "invalid YAML: %s (%s at line %d)%s",
                         p->problem ? p->problem : "syntax error", p->context, (int)p->context_mark.line + 1,
                         hint);
            else
                diag_add(diags, pos, "invalid YAML: %s%s", p->problem ? p->problem : "syntax error", hint);
            syntax_error = 1;
            break;
        }
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1) {
                diag_add(diags, mark_pos(&b, ev.start_mark),
                         "a pipeline file holds one YAML document; found a second one");
                done = 1;
            }
            break;
        case YAML_SCALAR_EVENT:
            on_scalar(&b, &ev);
            break;
        case YAML_ALIAS_EVENT:
            on_alias(&b, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            on_collection_start(&b, CFG_LIST, &ev, ev.data.sequence_start.anchor);
            break;
        case YAML_MAPPING_START_EVENT:
            on_collection_start(&b, CFG_MAP, &ev, ev.data.mapping_start.anchor);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            on_collection_end(&b);
            break;
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(p);
    builder_free(&b);
    if (syntax_error || b.failed) {
        if (b.failed && !syntax_error && diags->count == 0)
            diag_add(diags, (src_pos){file, 0, 0}, "out of memory reading the pipeline");
        cfg_free(b.root);
        return NULL;
    }
    return b.root;
}

cfg_node *cfg_yaml_read_file(FILE *fp, const char *file, interp_lookup_fn lookup, void *ud, diag_list *diags)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        diag_add(diags, (src_pos){file, 0, 0}, "out of memory");
        return NULL;
    }
    /* Read whole (pipeline files are small), so a syntax error can look at
     * the text around it for a hint. */
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    char chunk[8192];
    size_t got;
    while (mem && (got = fread(chunk, 1, sizeof chunk, fp)) > 0)
        if (fwrite(chunk, 1, got, mem) != got)
            break;
    if (mem == NULL || fclose(mem) != 0 || ferror(fp)) {
        diag_add(diags, (src_pos){file, 0, 0}, "cannot read the file: %s",
                 ferror(fp) ? "read error" : "out of memory");
        free(text);
        yaml_parser_delete(&parser);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    cfg_node *root = parse_yaml(&parser, (builder){.file = file,
                                                   .diags = diags,
                                                   .interpolate = 1,
                                                   .lookup = lookup,
                                                   .ud = ud,
                                                   .text = text,
                                                   .text_len = len});
    free(text);
    return root;
}

cfg_node *cfg_yaml_read_string(const char *text, const char *file, diag_list *diags)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        diag_add(diags, (src_pos){file, 0, 0}, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    return parse_yaml(&parser, (builder){.file = file, .diags = diags});
}
