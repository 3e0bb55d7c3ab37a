#include "session_snapshot.h"

#include <stdlib.h>
#include <string.h>

#include <sluice/bytes.h>

/* --- writing ------------------------------------------------------------ */

sluice_status sessionize_snapshot_write(const sluice_host_api *api, const session_store *st,
                                        sluice_snapshot *out)
{
    sluice_bytes_writer w = {0};
    const url_intern *urls = &st->urls;
    /* URL index in the snapshot per intern id. */
    uint32_t *index = calloc(urls->next_fresh + 1, sizeof *index);
    if (index == NULL)
        return SLUICE_ERR_NOMEM;

    const user_table *users = &st->users;
    sluice_bytes_put_i64(&w, st->gap);
    sluice_bytes_put_u64(&w, user_table_size(users));
    for (uint32_t ref = user_table_next(users, 0); ref != 0; ref = user_table_next(users, ref)) {
        const user_entry *u = user_table_at(users, ref);
        sluice_bytes_put_u64(&w, u->hash);
        sluice_bytes_put_u32(&w, u->len);
        sluice_bytes_put(&w, u->bytes, u->len);
        sluice_bytes_put_u64(&w, u->sessions);
        sluice_bytes_put_i64(&w, u->duration_sum);
    }

    sluice_bytes_put_u32(&w, urls->live);
    uint32_t next_index = 0;
    for (uint32_t id = 1; id < urls->next_fresh; id++) {
        const url_intern_entry *e = &urls->entries[id];
        if (e->bytes == NULL)
            continue;
        index[id] = next_index++;
        sluice_bytes_put_u64(&w, e->hash);
        sluice_bytes_put_u32(&w, e->len);
        sluice_bytes_put(&w, e->bytes, e->len);
    }

    sluice_bytes_put_u64(&w, st->open);
    uint32_t user_index = 0;
    for (uint32_t ref = user_table_next(users, 0); ref != 0; ref = user_table_next(users, ref)) {
        user_index++;
        for (uint32_t sid = user_table_at(users, ref)->open_head; sid != 0; sid = st->pool[sid].next) {
            const session *s = &st->pool[sid];
            sluice_bytes_put_u32(&w, user_index);
            sluice_bytes_put_i64(&w, s->start);
            sluice_bytes_put_i64(&w, s->end);
            sluice_bytes_put_u64(&w, s->clicks);
            sluice_bytes_put_u32(&w, index[s->entry_url]);
            sluice_bytes_put_u32(&w, index[s->exit_url]);
            sluice_bytes_put_u32(&w, s->urls.count);
            for (uint32_t i = 0, n = url_set_span(&s->urls); i < n; i++) {
                uint32_t url = url_set_at(&s->urls, i);
                if (url != 0)
                    sluice_bytes_put_u32(&w, index[url]);
            }
        }
    }
    free(index);

    void *data = w.failed ? NULL : api->alloc(w.len ? w.len : 1);
    if (data == NULL) {
        free(w.data);
        return SLUICE_ERR_NOMEM;
    }
    memcpy(data, w.data, w.len);
    free(w.data);
    out->encoding_version = SESSIONIZE_SNAPSHOT_VERSION;
    out->data = data;
    out->size = w.len;
    return SLUICE_OK;
}

/* --- reading ------------------------------------------------------------ */

/* What read_state allocates: user_refs[] maps user index (from 1) -> user
 * ref; url_ids[] maps URL index -> intern id, each holding one reference of
 * the reader's own until the end. */
typedef struct read_maps {
    uint32_t *user_refs;
    uint32_t *url_ids;
    uint32_t nurl_ids;
} read_maps;

/* Why the bytes are refused, or NULL. */
static const char *read_state(session_store *st, sluice_bytes_reader *r, read_maps *m)
{
    if (sluice_bytes_get_i64(r) != st->gap)
        return r->failed ? "truncated" : "written with another gap";
    uint64_t nusers = sluice_bytes_get_u64(r);
    if (nusers > r->len) /* each user takes bytes: cheap sanity bound */
        return "malformed user count";
    m->user_refs = calloc((size_t)nusers + 1, sizeof *m->user_refs);
    if (m->user_refs == NULL)
        return "out of memory";
    for (uint64_t i = 0; i < nusers && !r->failed; i++) {
        uint64_t hash = sluice_bytes_get_u64(r);
        uint32_t len = sluice_bytes_get_u32(r);
        const char *bytes = sluice_bytes_take(r, len);
        uint64_t sessions = sluice_bytes_get_u64(r);
        int64_t sum = sluice_bytes_get_i64(r);
        if (r->failed)
            break;
        uint32_t before = user_table_size(&st->users);
        uint32_t ref = user_table_get(&st->users, bytes, len, hash);
        if (ref == 0)
            return "out of memory";
        if (user_table_size(&st->users) == before)
            return "a user appears twice";
        m->user_refs[i + 1] = ref;
        user_table_at(&st->users, ref)->sessions = sessions;
        user_table_at(&st->users, ref)->duration_sum = sum;
    }

    uint32_t nurls = sluice_bytes_get_u32(r);
    if (nurls > r->len)
        return r->failed ? "truncated" : "malformed URL count";
    uint32_t *ids = calloc((size_t)nurls + 1, sizeof *ids);
    if (ids == NULL)
        return "out of memory";
    m->url_ids = ids;
    for (uint32_t i = 0; i < nurls && !r->failed; i++) {
        uint64_t hash = sluice_bytes_get_u64(r);
        uint32_t len = sluice_bytes_get_u32(r);
        const char *bytes = sluice_bytes_take(r, len);
        if (r->failed)
            break;
        ids[i] = url_intern_acquire(&st->urls, bytes, len, hash);
        if (ids[i] == 0)
            return "out of memory";
        m->nurl_ids = i + 1;
    }

    uint64_t nsessions = sluice_bytes_get_u64(r);
    uint32_t last_user = 0, last_session = 0;
    for (uint64_t i = 0; i < nsessions && !r->failed; i++) {
        uint32_t uid = sluice_bytes_get_u32(r);
        int64_t start = sluice_bytes_get_i64(r), end = sluice_bytes_get_i64(r);
        uint64_t clicks = sluice_bytes_get_u64(r);
        uint32_t entry = sluice_bytes_get_u32(r), exit = sluice_bytes_get_u32(r),
                 count = sluice_bytes_get_u32(r);
        if (r->failed)
            break;
        if (uid == 0 || uid > nusers || uid < last_user)
            return "sessions not grouped by user";
        if (entry >= nurls || exit >= nurls || start > end || start < 0 || clicks == 0 || count == 0 ||
            count > clicks)
            return "malformed session";
        /* Newest first, each more than gap before the previous (newer) one. */
        if (uid == last_user &&
            !(end < st->pool[last_session].start && st->pool[last_session].start - end > st->gap))
            return "sessions out of order";
        uint32_t sid =
            session_store_restore_session(st, m->user_refs[uid], start, end, clicks, ids[entry], ids[exit]);
        if (sid == 0)
            return "out of memory";
        for (uint32_t k = 0; k < count; k++) {
            uint32_t url = sluice_bytes_get_u32(r);
            if (r->failed)
                break;
            if (url >= nurls)
                return "malformed session URL";
            int added = session_store_restore_url(st, sid, ids[url]);
            if (added < 0)
                return "out of memory";
            if (added == 0)
                return "a session URL appears twice";
        }
        if (!r->failed && (!url_set_contains(&st->pool[sid].urls, ids[entry]) ||
                           !url_set_contains(&st->pool[sid].urls, ids[exit])))
            return "entry or exit URL not among the session's URLs";
        last_user = uid;
        last_session = sid;
    }
    if (r->failed)
        return "truncated";
    if (r->pos != r->len)
        return "trailing bytes";
    return NULL;
}

sluice_status sessionize_snapshot_read(const sluice_host_api *api, sluice_ctx *ctx, session_store *st,
                                       const sluice_snapshot *in)
{
    if (in->encoding_version != SESSIONIZE_SNAPSHOT_VERSION) {
        api->log(ctx, SLUICE_LOG_ERROR,
                 "sessionize snapshot has encoding version %u; this build reads version %u",
                 (unsigned)in->encoding_version, SESSIONIZE_SNAPSHOT_VERSION);
        return SLUICE_ERR_STATE;
    }
    sluice_bytes_reader r = sluice_bytes_reader_of(in->data, in->size);
    read_maps maps = {NULL, NULL, 0};
    const char *why = read_state(st, &r, &maps);
    /* Drop the reader's own references: URLs no session holds go. */
    for (uint32_t i = 0; i < maps.nurl_ids; i++)
        url_intern_release(&st->urls, maps.url_ids[i]);
    free(maps.url_ids);
    free(maps.user_refs);
    if (why == NULL)
        return SLUICE_OK;
    int64_t gap = st->gap;
    session_store_free(st);
    session_store_init(st, gap);
    if (strcmp(why, "out of memory") == 0)
        return SLUICE_ERR_NOMEM;
    api->log(ctx, SLUICE_LOG_ERROR, "sessionize snapshot refused: %s", why);
    return SLUICE_ERR_STATE;
}
