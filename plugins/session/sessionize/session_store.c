#include "session_store.h"

#include <stdlib.h>
#include <string.h>

#include <sluice/bytes.h>

void session_store_init(session_store *st, int64_t gap_ms)
{
    memset(st, 0, sizeof *st);
    st->gap = gap_ms;
    session_heap_init(&st->heap);
    url_intern_init(&st->urls);
    user_table_init(&st->users);
}

void session_store_free(session_store *st)
{
    /* Open sessions' URL sets; the intern table goes as a whole. */
    for (uint32_t i = 0; i < st->heap.count; i++)
        url_set_free(&st->pool[st->heap.nodes[i].id].urls);
    for (uint32_t i = 0; i < st->due_count; i++)
        url_set_free(&st->pool[st->due[i]].urls);
    free(st->pool);
    free(st->due);
    session_heap_free(&st->heap);
    url_intern_free(&st->urls);
    user_table_free(&st->users);
    memset(st, 0, sizeof *st);
}

static uint32_t session_alloc(session_store *st)
{
    if (st->free_head != 0) {
        uint32_t id = st->free_head;
        st->free_head = st->pool[id].next;
        return id;
    }
    if (st->next_fresh == 0)
        st->next_fresh = 1;
    if (st->next_fresh >= st->pool_cap) {
        uint32_t cap = st->pool_cap == 0 ? 256 : st->pool_cap * 2;
        session *pool = realloc(st->pool, (size_t)cap * sizeof *pool);
        if (pool == NULL || session_heap_reserve(&st->heap, cap) != 0) {
            if (pool != NULL)
                st->pool = pool;
            return 0;
        }
        st->pool = pool;
        st->pool_cap = cap;
    }
    return st->next_fresh++;
}

static void session_release_urls(session_store *st, session *s)
{
    st->set_bytes -= url_set_memory(&s->urls);
    for (uint32_t i = 0, n = url_set_span(&s->urls); i < n; i++) {
        uint32_t id = url_set_at(&s->urls, i);
        if (id != 0)
            url_intern_release(&st->urls, id);
    }
    url_set_free(&s->urls);
}

/* Put one URL reference (already acquired) into the session's set; the
 * reference is dropped when the set had the URL. */
static int session_take_url(session_store *st, session *s, uint32_t url)
{
    size_t before = url_set_memory(&s->urls);
    int added = url_set_add(&s->urls, url);
    st->set_bytes += url_set_memory(&s->urls) - before;
    if (added <= 0)
        url_intern_release(&st->urls, url);
    return added < 0 ? -1 : 0;
}

/* Fold the older session `older` into `newer` (they are both within gap of
 * the event that bridges them). `newer` keeps its end, so its heap place
 * stays valid. */
static int session_merge(session_store *st, uint32_t newer_id, uint32_t older_id)
{
    session *newer = &st->pool[newer_id];
    session *older = &st->pool[older_id];
    /* Walk the smaller set into the larger one. */
    if (older->urls.count > newer->urls.count) {
        url_set tmp = newer->urls;
        newer->urls = older->urls;
        older->urls = tmp;
    }
    for (uint32_t i = 0, n = url_set_span(&older->urls); i < n; i++) {
        uint32_t id = url_set_at(&older->urls, i);
        if (id != 0 && session_take_url(st, newer, id) != 0)
            return -1; /* older keeps the rest; both stay consistent enough to free */
    }
    st->set_bytes -= url_set_memory(&older->urls);
    url_set_free(&older->urls);
    newer->start = older->start;
    newer->entry_url = older->entry_url;
    newer->clicks += older->clicks;
    newer->next = older->next;
    session_heap_remove(&st->heap, older_id);
    older->next = st->free_head;
    st->free_head = older_id;
    st->open--;
    return 0;
}

int session_store_add(session_store *st, const char *user, size_t user_len, uint64_t user_hash,
                      const char *url, size_t url_len, uint64_t url_hash, int64_t ts)
{
    uint32_t uid = user_table_get(&st->users, user, user_len, user_hash);
    if (uid == 0)
        return -1;
    uint32_t url_id = url_intern_acquire(&st->urls, url, url_len, url_hash);
    if (url_id == 0)
        return -1;

    /* The user's open sessions run newest first and are pairwise more than
     * gap apart; skip those starting more than gap after ts. Usually the
     * first one is the match. */
    uint32_t prev = 0, x = user_table_at(&st->users, uid)->open_head;
    while (x != 0 && sluice_add_sat_i64(ts, st->gap) < st->pool[x].start) {
        prev = x;
        x = st->pool[x].next;
    }
    if (x != 0 && ts <= sluice_add_sat_i64(st->pool[x].end, st->gap)) {
        uint32_t older = st->pool[x].next;
        if (older != 0 && ts <= sluice_add_sat_i64(st->pool[older].end, st->gap)) {
            if (session_merge(st, x, older) != 0) {
                url_intern_release(&st->urls, url_id);
                return -1;
            }
        }
        session *s = &st->pool[x];
        s->clicks++;
        if (ts < s->start) {
            s->start = ts;
            s->entry_url = url_id;
        }
        if (ts >= s->end) {
            if (ts > s->end)
                session_heap_update(&st->heap, x, ts);
            s->end = ts;
            s->exit_url = url_id;
        }
        return session_take_url(st, s, url_id);
    }

    uint32_t id = session_alloc(st);
    if (id == 0 || session_heap_push(&st->heap, id, ts) != 0) {
        if (id != 0) {
            st->pool[id].next = st->free_head;
            st->free_head = id;
        }
        url_intern_release(&st->urls, url_id);
        return -1;
    }
    session *s = &st->pool[id];
    s->start = s->end = ts;
    s->clicks = 1;
    s->entry_url = s->exit_url = url_id;
    s->user = uid;
    s->next = x;
    url_set_init(&s->urls);
    url_set_add(&s->urls, url_id); /* inline, cannot fail */
    if (prev != 0)
        st->pool[prev].next = id;
    else
        user_table_at(&st->users, uid)->open_head = id;
    st->open++;
    return 0;
}

int session_store_take_due(session_store *st, int64_t end_limit, int all)
{
    while (!session_heap_empty(&st->heap)) {
        const session_heap_node *top = session_heap_top(&st->heap);
        if (!all && top->end >= end_limit)
            break;
        if (st->due_count == st->due_cap) {
            uint32_t cap = st->due_cap == 0 ? 64 : st->due_cap * 2;
            uint32_t *due = realloc(st->due, (size_t)cap * sizeof *due);
            if (due == NULL)
                return -1;
            st->due = due;
            st->due_cap = cap;
        }
        uint32_t id = top->id;
        session_heap_remove(&st->heap, id);
        st->due[st->due_count++] = id;
    }
    return 0;
}

void session_store_close(session_store *st, uint32_t id, uint64_t *user_sessions, int64_t *user_duration_sum)
{
    session *s = &st->pool[id];
    user_entry *u = user_table_at(&st->users, s->user);
    /* Unlink: due sessions are the user's oldest, so usually near the tail
     * of a short list. */
    if (u->open_head == id) {
        u->open_head = s->next;
    } else {
        uint32_t p = u->open_head;
        while (st->pool[p].next != id)
            p = st->pool[p].next;
        st->pool[p].next = s->next;
    }
    u->sessions++;
    /* Saturating: a restored sum may be anything a snapshot held. */
    int64_t d = s->end - s->start;
    u->duration_sum = u->duration_sum > INT64_MAX - d ? INT64_MAX : u->duration_sum + d;
    *user_sessions = u->sessions;
    *user_duration_sum = u->duration_sum;
    session_release_urls(st, s);
    s->next = st->free_head;
    st->free_head = id;
    st->open--;
}

uint32_t session_store_restore_session(session_store *st, uint32_t user, int64_t start, int64_t end,
                                       uint64_t clicks, uint32_t entry_url, uint32_t exit_url)
{
    uint32_t id = session_alloc(st);
    if (id == 0)
        return 0;
    if (session_heap_push(&st->heap, id, end) != 0) {
        st->pool[id].next = st->free_head;
        st->free_head = id;
        return 0;
    }
    session *s = &st->pool[id];
    *s = (session){.start = start,
                   .end = end,
                   .clicks = clicks,
                   .entry_url = entry_url,
                   .exit_url = exit_url,
                   .user = user,
                   .next = 0};
    url_set_init(&s->urls);
    user_entry *u = user_table_at(&st->users, user);
    if (u->open_head == 0) {
        u->open_head = id;
    } else {
        uint32_t tail = u->open_head;
        while (st->pool[tail].next != 0)
            tail = st->pool[tail].next;
        st->pool[tail].next = id;
    }
    st->open++;
    return id;
}

int session_store_restore_url(session_store *st, uint32_t id, uint32_t url)
{
    session *s = &st->pool[id];
    size_t before = url_set_memory(&s->urls);
    int added = url_set_add(&s->urls, url);
    st->set_bytes += url_set_memory(&s->urls) - before;
    if (added == 1)
        url_intern_ref(&st->urls, url);
    return added;
}

size_t session_store_memory(const session_store *st)
{
    return (size_t)st->pool_cap * sizeof(session) + st->set_bytes + session_heap_memory(&st->heap) +
           url_intern_memory(&st->urls) + user_table_memory(&st->users) +
           (size_t)st->due_cap * sizeof(uint32_t);
}
