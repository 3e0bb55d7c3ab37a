#include "window_counts.h"

#include <stdlib.h>
#include <string.h>

struct user_slot {
    uint64_t hash;
    size_t off_plus_one; /* 0 marks an empty slot; bytes hold a 4-byte length, then the user */
};

#define MIN_INDEX 16

window_counts *window_counts_new(int64_t start, int64_t end, uint32_t top_n)
{
    window_counts *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->start = start;
    w->end = end;
    w->top_n = top_n;
    w->url_index = calloc(MIN_INDEX, sizeof *w->url_index);
    w->users = calloc(MIN_INDEX, sizeof *w->users);
    if (w->url_index == NULL || w->users == NULL) {
        window_counts_free(w);
        return NULL;
    }
    w->url_index_mask = MIN_INDEX - 1;
    w->users_mask = MIN_INDEX - 1;
    return w;
}

void window_counts_free(window_counts *w)
{
    if (w == NULL)
        return;
    free(w->urls);
    free(w->url_index);
    free(w->users);
    free(w->bytes);
    free(w->top);
    free(w);
}

/* Grow an array of `size`-byte items to hold `need`; 0 when out of memory. */
static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 1;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (q == NULL)
        return 0;
    *p = q;
    *cap = n;
    return 1;
}

/* Copy bytes into the store; returns their offset, or SIZE_MAX. */
static size_t store_bytes(window_counts *w, const void *p, size_t n)
{
    size_t cap = w->bytes_cap;
    void *bytes = w->bytes;
    if (!grow(&bytes, &cap, w->nbytes + n, 1))
        return SIZE_MAX;
    w->bytes = bytes;
    w->bytes_cap = cap;
    size_t off = w->nbytes;
    memcpy(w->bytes + off, p, n);
    w->nbytes += n;
    return off;
}

/* ---- URLs ---------------------------------------------------------------- */

static uint64_t index_tag(uint64_t hash) { return hash & 0xffffffff00000000ull; }

static void index_put(uint64_t *index, size_t mask, uint64_t hash, uint32_t i)
{
    size_t s = (size_t)hash & mask;
    while (index[s] != 0)
        s = (s + 1) & mask;
    index[s] = index_tag(hash) | ((uint64_t)i + 1);
}

static int url_index_grow(window_counts *w)
{
    size_t mask = w->url_index_mask * 2 + 1;
    uint64_t *index = calloc(mask + 1, sizeof *index);
    if (index == NULL)
        return 0;
    for (uint32_t i = 0; i < w->nurls; i++)
        index_put(index, mask, w->urls[i].hash, i);
    free(w->url_index);
    w->url_index = index;
    w->url_index_mask = mask;
    return 1;
}

/* The URL's index, adding it with 0 clicks when new; -1 when out of memory. */
static int64_t url_find_or_add(window_counts *w, const char *url, size_t len, uint64_t hash)
{
    size_t s = (size_t)hash & w->url_index_mask;
    for (; w->url_index[s] != 0; s = (s + 1) & w->url_index_mask) {
        uint64_t slot = w->url_index[s];
        if ((slot & 0xffffffff00000000ull) != index_tag(hash))
            continue;
        uint32_t i = (uint32_t)(slot & 0xffffffffu) - 1;
        const url_entry *e = &w->urls[i];
        if (e->hash == hash && e->len == len && memcmp(w->bytes + e->off, url, len) == 0)
            return i;
    }
    if (w->nurls == UINT32_MAX - 1 || len > UINT32_MAX)
        return -1;
    /* Keep the index at most half full. */
    if ((size_t)(w->nurls + 1) * 2 > w->url_index_mask + 1) {
        if (!url_index_grow(w))
            return -1;
    }
    size_t cap = w->urls_cap;
    void *urls = w->urls;
    if (!grow(&urls, &cap, (size_t)w->nurls + 1, sizeof(url_entry)))
        return -1;
    w->urls = urls;
    w->urls_cap = (uint32_t)cap;
    size_t off = store_bytes(w, url, len);
    if (off == SIZE_MAX)
        return -1;
    uint32_t i = w->nurls++;
    w->urls[i] = (url_entry){hash, off, (uint32_t)len, -1, 0};
    index_put(w->url_index, w->url_index_mask, hash, i);
    return i;
}

static int url_cmp(const window_counts *w, uint32_t a, uint32_t b)
{
    const url_entry *x = &w->urls[a], *y = &w->urls[b];
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(w->bytes + x->off, w->bytes + y->off, n);
    if (c != 0)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* ---- users --------------------------------------------------------------- */

static int user_equal(const window_counts *w, const user_slot *s, const char *user, size_t len)
{
    uint32_t stored_len;
    memcpy(&stored_len, w->bytes + s->off_plus_one - 1, sizeof stored_len);
    return stored_len == len && memcmp(w->bytes + s->off_plus_one - 1 + sizeof stored_len, user, len) == 0;
}

static int users_grow(window_counts *w)
{
    size_t mask = w->users_mask * 2 + 1;
    user_slot *users = calloc(mask + 1, sizeof *users);
    if (users == NULL)
        return 0;
    for (size_t i = 0; i <= w->users_mask; i++) {
        if (w->users[i].off_plus_one == 0)
            continue;
        size_t s = (size_t)w->users[i].hash & mask;
        while (users[s].off_plus_one != 0)
            s = (s + 1) & mask;
        users[s] = w->users[i];
    }
    free(w->users);
    w->users = users;
    w->users_mask = mask;
    return 1;
}

/* Add the user to the set; 0 when out of memory. */
static int user_add(window_counts *w, const char *user, size_t len, uint64_t hash)
{
    size_t s = (size_t)hash & w->users_mask;
    for (; w->users[s].off_plus_one != 0; s = (s + 1) & w->users_mask) {
        if (w->users[s].hash == hash && user_equal(w, &w->users[s], user, len))
            return 1;
    }
    if (len > UINT32_MAX)
        return 0;
    if ((w->nusers + 1) * 2 > w->users_mask + 1) {
        if (!users_grow(w))
            return 0;
        s = (size_t)hash & w->users_mask;
        while (w->users[s].off_plus_one != 0)
            s = (s + 1) & w->users_mask;
    }
    uint32_t len32 = (uint32_t)len;
    size_t off = store_bytes(w, &len32, sizeof len32);
    if (off == SIZE_MAX || store_bytes(w, user, len) == SIZE_MAX)
        return 0;
    w->users[s].hash = hash;
    w->users[s].off_plus_one = off + 1;
    w->nusers++;
    return 1;
}

/* ---- the running top ----------------------------------------------------- */

/* Ranks first: more clicks, then the URL earlier in byte order. */
static int ranks_before(const window_counts *w, uint32_t a, uint32_t b)
{
    if (w->urls[a].clicks != w->urls[b].clicks)
        return w->urls[a].clicks > w->urls[b].clicks;
    return url_cmp(w, a, b) < 0;
}

/* URL i just gained a click: move it up, into the top if it now belongs. */
static int top_update(window_counts *w, uint32_t i)
{
    url_entry *e = &w->urls[i];
    if (e->top_pos < 0) {
        if (w->ntop < w->top_n) {
            size_t cap = w->top_cap;
            void *top = w->top;
            if (!grow(&top, &cap, (size_t)w->ntop + 1, sizeof(uint32_t)))
                return 0;
            w->top = top;
            w->top_cap = (uint32_t)cap;
            w->ntop++;
        } else if (w->ntop > 0 && ranks_before(w, i, w->top[w->ntop - 1])) {
            w->urls[w->top[w->ntop - 1]].top_pos = -1;
        } else {
            return 1;
        }
        e->top_pos = (int32_t)(w->ntop - 1);
        w->top[w->ntop - 1] = i;
    }
    uint32_t pos = (uint32_t)e->top_pos;
    while (pos > 0 && ranks_before(w, i, w->top[pos - 1])) {
        uint32_t other = w->top[pos - 1];
        w->top[pos] = other;
        w->urls[other].top_pos = (int32_t)pos;
        pos--;
    }
    w->top[pos] = i;
    e->top_pos = (int32_t)pos;
    return 1;
}

/* ---- counting ------------------------------------------------------------ */

int64_t window_counts_add(window_counts *w, const char *url, size_t url_len, uint64_t url_hash,
                          const char *user, size_t user_len, uint64_t user_hash)
{
    /* Out of memory stops the pipeline, so a half-counted click is never seen. */
    if (user != NULL && !user_add(w, user, user_len, user_hash))
        return -1;
    if (url == NULL) {
        w->clicks++;
        return 0;
    }
    int64_t i = url_find_or_add(w, url, url_len, url_hash);
    if (i < 0)
        return -1;
    w->urls[i].clicks++;
    w->clicks++;
    if (!top_update(w, (uint32_t)i))
        return -1;
    return i;
}

int64_t window_counts_url_index(window_counts *w, const char *url, size_t url_len, uint64_t url_hash)
{
    return url_find_or_add(w, url, url_len, url_hash);
}

int window_counts_add_clicks(window_counts *w, uint32_t i, int64_t clicks)
{
    w->urls[i].clicks += clicks;
    w->clicks += clicks;
    return clicks > 0 && !top_update(w, i) ? -1 : 0;
}

/* Stable merge sort of URL indices (bottom-up, no recursion). */
void window_counts_sort_by_url(const window_counts *w, uint32_t *order, uint32_t *scratch)
{
    size_t n = w->nurls;
    for (uint32_t i = 0; i < n; i++)
        order[i] = i;
    uint32_t *src = order, *dst = scratch;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t a = lo, b = mid, k = lo;
            while (a < mid && b < hi)
                dst[k++] = url_cmp(w, src[b], src[a]) < 0 ? src[b++] : src[a++];
            while (a < mid)
                dst[k++] = src[a++];
            while (b < hi)
                dst[k++] = src[b++];
        }
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != order)
        memcpy(order, src, n * sizeof *order);
}

const uint32_t *window_counts_url_order(const window_counts *w, url_order *o)
{
    if (w->nurls > o->cap) {
        size_t cap = o->cap ? o->cap : 64;
        while (cap < w->nurls)
            cap *= 2;
        uint32_t *order = realloc(o->order, cap * sizeof *order);
        if (order == NULL)
            return NULL;
        o->order = order;
        uint32_t *scratch = realloc(o->scratch, cap * sizeof *scratch);
        if (scratch == NULL)
            return NULL;
        o->scratch = scratch;
        o->cap = cap;
    }
    window_counts_sort_by_url(w, o->order, o->scratch);
    return o->order;
}

void url_order_free(url_order *o)
{
    free(o->order);
    free(o->scratch);
    *o = (url_order){0};
}

size_t url_order_bytes(const url_order *o) { return 2 * o->cap * sizeof(uint32_t); }

/* ---- snapshots ------------------------------------------------------------ */

void window_counts_encode(const window_counts *w, sluice_bytes_writer *out)
{
    sluice_bytes_put_i64(out, w->start);
    sluice_bytes_put_i64(out, w->end);
    sluice_bytes_put_u32(out, (uint32_t)w->fired);
    sluice_bytes_put_i64(out, w->clicks);
    sluice_bytes_put_u32(out, w->nurls);
    for (uint32_t i = 0; i < w->nurls; i++) {
        sluice_bytes_put_u64(out, w->urls[i].hash);
        sluice_bytes_put_u32(out, w->urls[i].len);
        sluice_bytes_put(out, window_counts_url(w, i), w->urls[i].len);
        sluice_bytes_put_i64(out, w->urls[i].clicks);
    }
    sluice_bytes_put_u64(out, w->nusers);
    for (size_t s = 0; s <= w->users_mask; s++) {
        const user_slot *u = &w->users[s];
        if (u->off_plus_one == 0)
            continue;
        uint32_t len;
        memcpy(&len, w->bytes + u->off_plus_one - 1, sizeof len);
        sluice_bytes_put_u64(out, u->hash);
        sluice_bytes_put_u32(out, len);
        sluice_bytes_put(out, w->bytes + u->off_plus_one - 1 + sizeof len, len);
    }
}

window_counts *window_counts_decode(sluice_bytes_reader *in, uint32_t top_n, unsigned counts)
{
    int64_t start = sluice_bytes_get_i64(in), end = sluice_bytes_get_i64(in);
    uint32_t fired = sluice_bytes_get_u32(in);
    int64_t clicks = sluice_bytes_get_i64(in);
    uint32_t nurls = sluice_bytes_get_u32(in);
    int urls = counts & WINDOW_COUNTS_URLS, users = counts & WINDOW_COUNTS_USERS;
    if (in->failed || start >= end || fired > 1 || clicks < 1 || (urls ? nurls == 0 : nurls != 0)) {
        in->failed = 1;
        return NULL;
    }
    window_counts *w = window_counts_new(start, end, top_n);
    if (w == NULL)
        return NULL;
    w->fired = (int)fired;
    int out_of_memory = 0;
    int64_t url_clicks = 0;
    for (uint32_t k = 0; k < nurls && !in->failed && !out_of_memory; k++) {
        uint64_t hash = sluice_bytes_get_u64(in);
        uint32_t len = sluice_bytes_get_u32(in);
        const char *url = sluice_bytes_take(in, len);
        int64_t n = sluice_bytes_get_i64(in);
        /* The URLs' counts add up to the window's clicks: one above what is
         * left of them is malformed (and would overflow the sum). */
        if (in->failed || len == 0 || n < 1 || n > clicks - url_clicks) {
            in->failed = 1;
            break;
        }
        int64_t i = url_find_or_add(w, url, len, hash);
        if (i < 0) {
            out_of_memory = 1;
        } else if (w->urls[i].clicks != 0) {
            in->failed = 1; /* the same URL twice */
        } else {
            w->urls[i].clicks = n;
            url_clicks += n;
            /* With its final count in place, the top takes it like a new entry. */
            out_of_memory = !top_update(w, (uint32_t)i);
        }
    }
    uint64_t nusers = in->failed || out_of_memory ? 0 : sluice_bytes_get_u64(in);
    if (!users && nusers != 0)
        in->failed = 1;
    for (uint64_t k = 0; k < nusers && !in->failed && !out_of_memory; k++) {
        uint64_t hash = sluice_bytes_get_u64(in);
        uint32_t len = sluice_bytes_get_u32(in);
        const char *user = sluice_bytes_take(in, len);
        if (in->failed || len == 0)
            in->failed = 1;
        else
            out_of_memory = !user_add(w, user, len, hash);
    }
    if (!in->failed && !out_of_memory && (w->nusers != nusers || (urls && url_clicks != clicks)))
        in->failed = 1; /* a user twice, or counts that do not add up */
    if (in->failed || out_of_memory) {
        window_counts_free(w);
        return NULL;
    }
    w->clicks = clicks;
    return w;
}

size_t window_counts_keys(const window_counts *w) { return w->nurls + w->nusers; }

size_t window_counts_bytes(const window_counts *w)
{
    return sizeof *w + (size_t)w->urls_cap * sizeof(url_entry) + (w->url_index_mask + 1) * sizeof(uint64_t) +
           (w->users_mask + 1) * sizeof(user_slot) + w->bytes_cap + (size_t)w->top_cap * sizeof(uint32_t);
}
