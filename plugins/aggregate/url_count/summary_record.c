#include "summary_record.h"

#include <string.h>

sluice_status summary_record_emit(const sluice_host_api *api, sluice_ctx *ctx, text_buf *key, text_buf *json,
                                  const summary_counts *c)
{
    sluice_record *rec = api->record_new(ctx);
    if (rec == NULL)
        return SLUICE_ERR_NOMEM;
    api->set_string(rec, "kind", "window_summary", strlen("window_summary"));
    api->set_int(rec, "window_start", c->start);
    api->set_int(rec, "window_end", c->end);
    api->set_int(rec, "clicks", c->clicks);
    api->set_int(rec, "unique_users", c->unique_users);
    api->set_int(rec, "unique_urls", c->unique_urls);

    text_buf_reset(json);
    text_buf_append(json, "[", 1);
    for (uint32_t k = 0; k < c->ntop; k++) {
        text_buf_append(json, k == 0 ? "{\"url\":" : ",{\"url\":", k == 0 ? 7 : 8);
        text_buf_append_json_string(json, c->top[k].url, c->top[k].len);
        text_buf_append(json, ",\"clicks\":", 10);
        text_buf_append_int(json, c->top[k].clicks);
        text_buf_append(json, "}", 1);
    }
    text_buf_append(json, "]", 1);
    if (json->failed)
        return SLUICE_ERR_NOMEM;
    api->set_json(rec, "top_urls", json->ptr, json->len);

    text_buf_reset(key);
    text_buf_append_int(key, c->start);
    if (key->failed)
        return SLUICE_ERR_NOMEM;
    api->set_key(rec, key->ptr, key->len);
    return api->emit(ctx, "main", rec);
}

sluice_status window_summary_emit(const sluice_host_api *api, sluice_ctx *ctx, text_buf *key, text_buf *json,
                                  const window_counts *w, int64_t unique_users, summary_top *top)
{
    for (uint32_t k = 0; k < w->ntop; k++)
        top[k] =
            (summary_top){window_counts_url(w, w->top[k]), w->urls[w->top[k]].len, w->urls[w->top[k]].clicks};
    summary_counts c = {w->start, w->end, w->clicks, unique_users, (int64_t)w->nurls, top, w->ntop};
    return summary_record_emit(api, ctx, key, json, &c);
}

sluice_status url_clicks_record_emit(const sluice_host_api *api, sluice_ctx *ctx, text_buf *key,
                                     const window_counts *w, uint32_t i)
{
    const url_entry *e = &w->urls[i];
    const char *url = window_counts_url(w, i);
    sluice_record *rec = api->record_new(ctx);
    if (rec == NULL)
        return SLUICE_ERR_NOMEM;
    api->set_string(rec, "kind", "url_clicks", strlen("url_clicks"));
    api->set_int(rec, "window_start", w->start);
    api->set_int(rec, "window_end", w->end);
    api->set_string(rec, "url", url, e->len);
    api->set_int(rec, "clicks", e->clicks);

    text_buf_reset(key);
    text_buf_append_int(key, w->start);
    text_buf_append(key, "|", 1);
    text_buf_append(key, url, e->len);
    if (key->failed)
        return SLUICE_ERR_NOMEM;
    api->set_key(rec, key->ptr, key->len);
    return api->emit(ctx, "main", rec);
}

int summary_url_cmp(const char *a, uint32_t alen, const char *b, uint32_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}
