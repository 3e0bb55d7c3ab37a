/* The exact counts of one tumbling window: clicks per URL, the set of
 * distinct users, and the running top-N URLs.
 *
 * URLs live in a dense array (stable indices, in order of first click) with an
 * open-addressing index keyed by the engine's URL role hash; users in an
 * open-addressing set keyed by the user role hash. Equal hashes are always
 * confirmed by comparing bytes, so counts are exact. The bytes of every URL and
 * user are copied once into the window's byte store.
 *
 * The top-N is kept up to date on every click: counts only grow, so a click
 * can only move its own URL up, possibly into the top and pushing the last
 * one out. Reading the top is then free, even when late events re-emit a
 * fired window's summary many times. */
#ifndef WINDOW_COUNTS_H
#define WINDOW_COUNTS_H

#include <stddef.h>
#include <stdint.h>

#include <sluice/bytes.h>

typedef struct url_entry {
    uint64_t hash; /* the URL role hash */
    size_t off;    /* bytes in the window's byte store */
    uint32_t len;
    int32_t top_pos; /* position in top[], or -1 */
    int64_t clicks;
} url_entry;

typedef struct user_slot user_slot;

typedef struct window_counts {
    int64_t start, end; /* [start, end) in event time */
    int fired;          /* emitted once at end; later clicks re-emit updates */
    int64_t clicks;

    url_entry *urls; /* dense, in order of first click */
    uint32_t nurls, urls_cap;
    uint64_t *url_index; /* (hash high bits << 32) | (url index + 1); 0 empty */
    size_t url_index_mask;

    user_slot *users;
    size_t nusers, users_mask;

    char *bytes; /* URL and user bytes */
    size_t nbytes, bytes_cap;

    uint32_t *top; /* url indices, best first */
    uint32_t ntop, top_cap, top_n;
} window_counts;

/* NULL when out of memory. */
window_counts *window_counts_new(int64_t start, int64_t end, uint32_t top_n);
void window_counts_free(window_counts *w);

/* Count one click of `user` on `url`. Returns the URL's index, or -1 when out
 * of memory (nothing counted). user NULL: users are not counted (url_count's
 * by_url part); url NULL: only users and clicks are (its by_user part),
 * returning 0. */
int64_t window_counts_add(window_counts *w, const char *url, size_t url_len, uint64_t url_hash,
                          const char *user, size_t user_len, uint64_t user_hash);

/* url_count's total part, summing what its partition tasks counted (users
 * are not counted): the URL's index, added with 0 clicks when new (-1 when
 * out of memory); then `clicks` (>= 0) more clicks for URL i at once (-1
 * when out of memory). A URL must not be left at 0 clicks. */
int64_t window_counts_url_index(window_counts *w, const char *url, size_t url_len, uint64_t url_hash);
int window_counts_add_clicks(window_counts *w, uint32_t i, int64_t clicks);

static inline const char *window_counts_url(const window_counts *w, uint32_t i)
{
    return w->bytes + w->urls[i].off;
}

/* Fill order[0..nurls) with the URL indices in URL byte order (unsigned
 * bytes, a prefix before its extensions). scratch holds nurls entries too. */
void window_counts_sort_by_url(const window_counts *w, uint32_t *order, uint32_t *scratch);

/* Scratch for window_counts_url_order, kept between windows. */
typedef struct url_order {
    uint32_t *order, *scratch;
    size_t cap;
} url_order;

/* The window's URL indices in URL byte order (window_counts_sort_by_url),
 * in o's buffers, grown as needed; NULL when out of memory. */
const uint32_t *window_counts_url_order(const window_counts *w, url_order *o);
void url_order_free(url_order *o);
size_t url_order_bytes(const url_order *o);

/* The window as snapshot bytes (see url_count_snapshot.h for the layout). */
void window_counts_encode(const window_counts *w, sluice_bytes_writer *out);
/* What a window counts: both for a whole url_count, URLs only for its
 * by_url part, users only for its by_user part (window_counts_add). */
#define WINDOW_COUNTS_URLS 1u
#define WINDOW_COUNTS_USERS 2u

/* A window read back; NULL when the bytes are malformed (in->failed set) or
 * memory runs out (in->failed clear). */
window_counts *window_counts_decode(sluice_bytes_reader *in, uint32_t top_n, unsigned counts);

size_t window_counts_keys(const window_counts *w);  /* distinct URLs + users */
size_t window_counts_bytes(const window_counts *w); /* heap bytes held      */

#endif
