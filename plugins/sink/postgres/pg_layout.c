#include "pg_layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLS(a) a, sizeof a / sizeof a[0]

static const pg_column url_clicks_cols[] = {
    {"window_start", PG_COL_TIME, 1, 0},
    {"window_end", PG_COL_TIME, 0, 0},
    {"url", PG_COL_TEXT, 1, 0},
    {"clicks", PG_COL_INT, 0, 0},
};
static const pg_column window_summary_cols[] = {
    {"window_start", PG_COL_TIME, 1, 0}, {"window_end", PG_COL_TIME, 0, 0}, {"clicks", PG_COL_INT, 0, 0},
    {"unique_users", PG_COL_INT, 0, 0},  {"unique_urls", PG_COL_INT, 0, 0}, {"top_urls", PG_COL_JSON, 0, 0},
};
static const pg_column session_cols[] = {
    {"user_id", PG_COL_TEXT, 1, 0},      {"session_start", PG_COL_TIME, 1, 0},
    {"session_end", PG_COL_TIME, 0, 0},  {"duration_ms", PG_COL_INT, 0, 0},
    {"clicks", PG_COL_INT, 0, 0},        {"unique_urls", PG_COL_INT, 0, 0},
    {"entry_url", PG_COL_TEXT, 0, 0},    {"exit_url", PG_COL_TEXT, 0, 0},
    {"user_sessions", PG_COL_INT, 0, 0}, {"user_avg_duration_ms", PG_COL_DOUBLE, 0, 0},
};
/* `key` is what identifies the record among its kind: the key its operator
 * set, else its origin, else (NULL here) the hash of its content. */
static const pg_column other_cols[] = {
    {"kind", PG_COL_TEXT, 1, 0},
    {"key", PG_COL_TEXT, 1, 1},
    {"record", PG_COL_JSON, 0, 0},
};
static const pg_column rejected_cols[] = {
    {"origin", PG_COL_TEXT, 1, 0},
    {"reason", PG_COL_TEXT, 0, 0},
    {"detail", PG_COL_TEXT, 0, 1},
    {"raw", PG_COL_TEXT, 0, 0},
};

const pg_layout pg_layouts[PG_NKINDS] = {
    /* The primary key (window_start, url) serves every time range. */
    [PG_URL_CLICKS] = {"url_clicks", "url_clicks", COLS(url_clicks_cols), NULL, 0},
    [PG_WINDOW_SUMMARY] = {"window_summary", "window_summary", COLS(window_summary_cols), NULL, 0},
    [PG_SESSION] = {"session", "sessions", COLS(session_cols), "start(session_start);end(session_end)", 0},
    [PG_OTHER] = {"other", "records", COLS(other_cols), "stored(stored_at)", 1},
    [PG_REJECTED] = {"rejected", "rejected", COLS(rejected_cols),
                     "stored(stored_at);reason(reason, stored_at)", 1},
};

json_t *pg_layout_parse_raw(const sluice_host_api *api, const sluice_record *rec)
{
    if (api->field_count(rec) > 0)
        return NULL;
    sluice_str js = {NULL, 0};
    api->record_json(rec, &js);
    json_t *doc = js.len ? json_loadb(js.ptr, js.len, JSON_ALLOW_NUL, NULL) : NULL;
    if (doc && !json_is_object(doc)) {
        json_decref(doc);
        doc = NULL;
    }
    return doc;
}

static pg_kind route_by_kind(const char *kind, size_t len)
{
    for (int k = 0; k < PG_OTHER; k++)
        if (strlen(pg_layouts[k].kind) == len && memcmp(pg_layouts[k].kind, kind, len) == 0)
            return (pg_kind)k;
    return PG_OTHER;
}

pg_kind pg_layout_route(const sluice_host_api *api, const sluice_record *rec, const json_t *doc)
{
    if (doc) {
        const json_t *kind = json_object_get(doc, "kind");
        if (json_is_string(kind))
            return route_by_kind(json_string_value(kind), json_string_length(kind));
        return json_is_string(json_object_get(doc, "reason")) &&
                       json_is_string(json_object_get(doc, "origin"))
                   ? PG_REJECTED
                   : PG_OTHER;
    }
    sluice_str kind = {NULL, 0};
    if (api->field_string(rec, "kind", &kind))
        return route_by_kind(kind.ptr, kind.len);
    /* Dead letters carry no kind (docs/semantics.md section 2). */
    if (api->field_type(rec, "reason") == SLUICE_TYPE_STRING &&
        api->field_type(rec, "origin") == SLUICE_TYPE_STRING)
        return PG_REJECTED;
    return PG_OTHER;
}

/* A column from a parsed raw record. */
static void encode_json_field(const json_t *doc, const pg_column *c, int sanitize, pg_text *line)
{
    const json_t *v = json_object_get(doc, c->name);
    if (v == NULL || json_is_null(v)) {
        pg_copy_null(line);
        return;
    }
    switch (c->type) {
    case PG_COL_TIME:
        if (json_is_integer(v))
            pg_copy_time(line, (int64_t)json_integer_value(v));
        else
            pg_copy_null(line);
        return;
    case PG_COL_INT:
        if (json_is_integer(v))
            pg_copy_int(line, (int64_t)json_integer_value(v));
        else
            pg_copy_null(line);
        return;
    case PG_COL_DOUBLE:
        if (json_is_number(v))
            pg_text_printf(line, "%.17g", json_number_value(v));
        else
            pg_copy_null(line);
        return;
    case PG_COL_TEXT:
        if (json_is_string(v)) {
            pg_copy_value(line, json_string_value(v), json_string_length(v), sanitize);
            return;
        }
        break;
    case PG_COL_JSON:
        break;
    }
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text) {
        pg_copy_value(line, text, strlen(text), sanitize);
        free(text);
    } else {
        pg_copy_null(line);
    }
}

static void encode_field(const sluice_host_api *api, const sluice_record *rec, const pg_column *c,
                         int sanitize, pg_text *line)
{
    sluice_str s;
    int64_t i;
    double d;
    switch (c->type) {
    case PG_COL_TIME:
        if (api->field_int(rec, c->name, &i))
            pg_copy_time(line, i);
        else
            pg_copy_null(line); /* refused by NOT NULL: a dead letter with the reason */
        return;
    case PG_COL_INT:
        if (api->field_int(rec, c->name, &i))
            pg_copy_int(line, i);
        else
            pg_copy_null(line); /* refused by NOT NULL: a dead letter with the reason */
        return;
    case PG_COL_DOUBLE:
        if (api->field_double(rec, c->name, &d))
            pg_text_printf(line, "%.17g", d);
        else
            pg_copy_null(line);
        return;
    case PG_COL_TEXT:
        if (api->field_string(rec, c->name, &s))
            pg_copy_value(line, s.ptr, s.len, sanitize);
        else if (api->field_type(rec, c->name) > SLUICE_TYPE_NULL && api->field_json(rec, c->name, &s))
            pg_copy_value(line, s.ptr, s.len, sanitize); /* a number or object, as written */
        else
            pg_copy_null(line);
        return;
    case PG_COL_JSON:
        if (api->field_type(rec, c->name) > SLUICE_TYPE_NONE && api->field_json(rec, c->name, &s))
            pg_copy_value(line, s.ptr, s.len, 0);
        else
            pg_copy_null(line);
        return;
    }
}

void pg_layout_encode(const sluice_host_api *api, pg_kind k, const sluice_record *rec, const json_t *doc,
                      pg_text *line)
{
    const pg_layout *l = &pg_layouts[k];
    if (k == PG_OTHER) {
        sluice_str kind = {NULL, 0}, key = api->record_key(rec), js = {NULL, 0};
        const json_t *jkind = doc ? json_object_get(doc, "kind") : NULL;
        if (json_is_string(jkind))
            kind = (sluice_str){json_string_value(jkind), json_string_length(jkind)};
        else if (doc == NULL)
            api->field_string(rec, "kind", &kind);
        if (kind.len)
            pg_copy_value(line, kind.ptr, kind.len, 1);
        else
            pg_text_puts(line, "unknown");
        pg_text_putc(line, '\t');
        if (key.len == 0)
            key = api->record_origin(rec);
        if (key.len)
            pg_copy_value(line, key.ptr, key.len, 1);
        else
            pg_copy_null(line);
        pg_text_putc(line, '\t');
        api->record_json(rec, &js);
        pg_copy_value(line, js.ptr, js.len, 0);
    } else {
        /* Dead letters hold arbitrary raw bytes: made valid UTF-8 here so the
         * one place that keeps them never refuses them. */
        int sanitize = k == PG_REJECTED;
        for (size_t c = 0; c < l->ncols; c++) {
            if (c)
                pg_text_putc(line, '\t');
            if (doc)
                encode_json_field(doc, &l->cols[c], sanitize, line);
            else
                encode_field(api, rec, &l->cols[c], sanitize, line);
        }
    }
    pg_text_putc(line, '\n');
}

void pg_layout_dead_letter(pg_kind k, const char *table, const char *line, size_t n, const char *message,
                           pg_text *out)
{
    const pg_layout *l = &pg_layouts[k];
    pg_text origin = {0}, raw = {0}, value = {0};
    pg_text_printf(&origin, "postgres:%s/", table);
    pg_text_putc(&raw, '{');
    int first_key = 1;
    for (size_t c = 0; c < l->ncols; c++) {
        value.len = 0;
        int st = pg_copy_column(line, n, c, &value);
        if (st < 0)
            break;
        int64_t ms;
        if (st == 0 && l->cols[c].type == PG_COL_TIME && pg_time_ms(value.ptr, value.len, &ms) == 0) {
            /* As the record had it: epoch milliseconds. */
            value.len = 0;
            pg_copy_int(&value, ms);
        }
        if (l->cols[c].key) {
            if (!first_key)
                pg_text_putc(&origin, '|');
            first_key = 0;
            pg_text_put(&origin, value.ptr ? value.ptr : "", value.len);
        }
        pg_text_printf(&raw, "%s\"%s\":", c ? "," : "", l->cols[c].name);
        if (st == 1)
            pg_text_puts(&raw, "null");
        else if (l->cols[c].type == PG_COL_TEXT)
            pg_json_string(&raw, value.ptr ? value.ptr : "", value.len);
        else /* numbers and JSON as they were written */
            pg_text_put(&raw, value.ptr ? value.ptr : "", value.len);
    }
    pg_text_putc(&raw, '}');
    pg_copy_value(out, origin.ptr, origin.len, 1);
    pg_text_puts(out, "\tdb_rejected\t");
    pg_copy_value(out, message, strlen(message), 1);
    pg_text_putc(out, '\t');
    /* raw is cut like the engine's dead letters (docs/semantics.md section 2). */
    pg_copy_value(out, raw.ptr, raw.len > 1024 ? 1024 : raw.len, 1);
    pg_text_putc(out, '\n');
    pg_text_free(&origin);
    pg_text_free(&raw);
    pg_text_free(&value);
}

static const char *sql_type(pg_col_type t, int stage)
{
    switch (t) {
    case PG_COL_TIME:
        return "timestamptz";
    case PG_COL_INT:
        return "bigint";
    case PG_COL_DOUBLE:
        return "double precision";
    case PG_COL_JSON:
        return stage ? "text" : "jsonb";
    case PG_COL_TEXT:
    default:
        return "text";
    }
}

static void key_list(const pg_layout *l, pg_text *sql)
{
    int first = 1;
    for (size_t c = 0; c < l->ncols; c++)
        if (l->cols[c].key) {
            pg_text_puts(sql, first ? "" : ", ");
            pg_quote_ident(sql, l->cols[c].name);
            first = 0;
        }
}

static void qualified(const char *schema, const char *name, pg_text *sql)
{
    pg_quote_ident(sql, schema);
    pg_text_putc(sql, '.');
    pg_quote_ident(sql, name);
}

void pg_layout_create_table(pg_kind k, const char *schema, const char *table, pg_text *sql)
{
    const pg_layout *l = &pg_layouts[k];
    pg_text_puts(sql, "CREATE TABLE IF NOT EXISTS ");
    qualified(schema, table, sql);
    pg_text_puts(sql, " (");
    for (size_t c = 0; c < l->ncols; c++) {
        pg_text_puts(sql, c ? ", " : "");
        pg_quote_ident(sql, l->cols[c].name);
        pg_text_printf(sql, " %s%s", sql_type(l->cols[c].type, 0),
                       l->cols[c].nullable && !l->cols[c].key ? "" : " NOT NULL");
    }
    if (l->stored_at)
        pg_text_puts(sql, ", stored_at timestamptz NOT NULL DEFAULT now()");
    pg_text_puts(sql, ", PRIMARY KEY (");
    key_list(l, sql);
    pg_text_puts(sql, "));\n");
    /* Indexes are named after the table so that two mappings never clash. */
    for (const char *p = l->indexes; p && *p;) {
        const char *paren = strchr(p, '('), *end = strchr(p, ')');
        if (paren == NULL || end == NULL)
            break;
        char name[200];
        snprintf(name, sizeof name, "%s_%.*s_idx", table, (int)(paren - p), p);
        pg_text_puts(sql, "CREATE INDEX IF NOT EXISTS ");
        pg_quote_ident(sql, name);
        pg_text_puts(sql, " ON ");
        qualified(schema, table, sql);
        pg_text_printf(sql, " %.*s;\n", (int)(end - paren + 1), paren);
        p = end[1] == ';' ? end + 2 : end + 1;
    }
}

static void stage_name(pg_kind k, pg_text *sql)
{
    pg_text_printf(sql, "pg_temp.sluice_stage_%s", pg_layouts[k].kind);
}

void pg_layout_create_stage(pg_kind k, pg_text *sql)
{
    const pg_layout *l = &pg_layouts[k];
    pg_text_puts(sql, "CREATE TEMP TABLE IF NOT EXISTS ");
    /* seq numbers the rows in the order they were copied: the last of a
     * key wins. */
    pg_text_printf(sql, "sluice_stage_%s (seq bigint GENERATED ALWAYS AS IDENTITY", l->kind);
    for (size_t c = 0; c < l->ncols; c++) {
        pg_text_puts(sql, ", ");
        pg_quote_ident(sql, l->cols[c].name);
        pg_text_printf(sql, " %s", sql_type(l->cols[c].type, 1));
    }
    pg_text_puts(sql, ");\n");
}

static void column_list(const pg_layout *l, pg_text *sql)
{
    pg_text_puts(sql, " (");
    for (size_t c = 0; c < l->ncols; c++) {
        pg_text_puts(sql, c ? ", " : "");
        pg_quote_ident(sql, l->cols[c].name);
    }
    pg_text_puts(sql, ")");
}

void pg_layout_copy(pg_kind k, const char *schema, const char *table, pg_text *sql)
{
    pg_text_puts(sql, "COPY ");
    if (table)
        qualified(schema, table, sql);
    else
        stage_name(k, sql);
    column_list(&pg_layouts[k], sql);
    pg_text_puts(sql, " FROM STDIN");
}

/* The staged value of column c as the table's type. */
static void converted(const pg_column *c, pg_kind k, pg_text *sql)
{
    if (k == PG_OTHER && strcmp(c->name, "key") == 0) {
        pg_text_puts(sql, "coalesce(s.key, md5(s.record))");
        return;
    }
    pg_text_puts(sql, "s.");
    pg_quote_ident(sql, c->name);
    if (c->type == PG_COL_JSON)
        pg_text_puts(sql, "::jsonb");
}

uint64_t pg_layout_key_hash(pg_kind k, const char *line, size_t n)
{
    const pg_layout *l = &pg_layouts[k];
    if (k == PG_OTHER)
        return 0;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    size_t col = 0;
    for (size_t i = 0; i < n && col < l->ncols; i++) {
        char c = line[i];
        if (c == '\t' || c == '\n') {
            if (l->cols[col].key)
                h = (h ^ 0xFF) * 1099511628211ull; /* a separator */
            col++;
            continue;
        }
        if (l->cols[col].key)
            h = (h ^ (unsigned char)c) * 1099511628211ull;
    }
    return h ? h : 1;
}

void pg_layout_upsert(pg_kind k, const char *schema, const char *table, int dedup, pg_text *sql)
{
    const pg_layout *l = &pg_layouts[k];
    pg_text_puts(sql, "INSERT INTO ");
    qualified(schema, table, sql);
    pg_text_puts(sql, " AS t (");
    for (size_t c = 0; c < l->ncols; c++) {
        pg_text_puts(sql, c ? ", " : "");
        pg_quote_ident(sql, l->cols[c].name);
    }
    pg_text_puts(sql, ") SELECT ");
    for (size_t c = 0; c < l->ncols; c++) {
        pg_text_puts(sql, c ? ", " : "");
        converted(&l->cols[c], k, sql);
    }
    /* A batch may hold one key twice (a late event re-emits a window):
     * the last one wins, as it does in every other sink, and ON CONFLICT
     * may not touch a row twice in one statement. */
    if (!dedup) {
        pg_text_puts(sql, " FROM ");
        stage_name(k, sql);
        pg_text_puts(sql, " s ON CONFLICT (");
    } else {
        pg_text_puts(sql, " FROM (SELECT DISTINCT ON (");
        pg_text_puts(sql, k == PG_OTHER ? "kind, coalesce(key, md5(record))" : "");
        if (k != PG_OTHER)
            key_list(l, sql);
        pg_text_puts(sql, ") * FROM ");
        stage_name(k, sql);
        pg_text_puts(sql, " ORDER BY ");
        pg_text_puts(sql, k == PG_OTHER ? "kind, coalesce(key, md5(record))" : "");
        if (k != PG_OTHER)
            key_list(l, sql);
        pg_text_puts(sql, ", seq DESC) s ON CONFLICT (");
    }
    key_list(l, sql);
    pg_text_puts(sql, ") DO UPDATE SET ");
    int first = 1;
    for (size_t c = 0; c < l->ncols; c++) {
        if (l->cols[c].key)
            continue;
        pg_text_puts(sql, first ? "" : ", ");
        pg_quote_ident(sql, l->cols[c].name);
        pg_text_puts(sql, " = EXCLUDED.");
        pg_quote_ident(sql, l->cols[c].name);
        first = 0;
    }
    /* A row that is already there as it is (a replay after a crash) is left
     * alone: no new row version, no index entries, no WAL. */
    pg_text_puts(sql, " WHERE (");
    for (int side = 0; side < 2; side++) {
        first = 1;
        for (size_t c = 0; c < l->ncols; c++) {
            if (l->cols[c].key)
                continue;
            pg_text_puts(sql, first ? "" : ", ");
            pg_text_puts(sql, side ? "EXCLUDED." : "t.");
            pg_quote_ident(sql, l->cols[c].name);
            first = 0;
        }
        pg_text_puts(sql, side ? ")" : ") IS DISTINCT FROM (");
    }
}

void pg_layout_truncate_stage(pg_kind k, pg_text *sql)
{
    pg_text_puts(sql, "TRUNCATE ");
    stage_name(k, sql);
}
