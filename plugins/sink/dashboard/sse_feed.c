#include "sse_feed.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_RING_MESSAGES 4096
#define MAX_NOTES 16
#define NOTE_SIZE 200

typedef struct feed_msg {
    char *text; /* "event: ...\ndata: ...\n\n" */
    size_t len;
} feed_msg;

struct sse_client {
    char *greeting;
    size_t greeting_len, greeting_off;
    uint64_t cursor; /* seq of the next message to send          */
    size_t offset;   /* bytes of that message already sent        */
    int fd;
    int dropped;  /* fell behind: the stream ends with an error   */
    int finished; /* the feed closed and everything was sent      */
    char peer[64];
};

struct sse_feed {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* a message, a close, a client leaving */
    feed_msg ring[MAX_RING_MESSAGES];
    uint64_t first_seq, next_seq; /* the ring holds [first_seq, next_seq) */
    size_t bytes, max_bytes;
    sse_client **clients;
    size_t nclients, max_clients;
    int64_t keepalive_ms;
    int closed;
    uint64_t joined, dropped, refused;
    char notes[MAX_NOTES][NOTE_SIZE];
    int note_warn[MAX_NOTES];
    size_t note_first, note_count;
    uint64_t notes_lost;
};

static struct timespec mono_deadline(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

sse_feed *feed_new(size_t max_bytes, size_t max_clients, int64_t keepalive_ms)
{
    sse_feed *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    f->clients = calloc(max_clients ? max_clients : 1, sizeof *f->clients);
    if (f->clients == NULL) {
        free(f);
        return NULL;
    }
    f->max_bytes = max_bytes;
    f->max_clients = max_clients;
    f->keepalive_ms = keepalive_ms;
    pthread_mutex_init(&f->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cond, &attr);
    pthread_condattr_destroy(&attr);
    return f;
}

void feed_free(sse_feed *f)
{
    if (f == NULL)
        return;
    for (uint64_t s = f->first_seq; s < f->next_seq; s++)
        free(f->ring[s % MAX_RING_MESSAGES].text);
    for (size_t i = 0; i < f->nclients; i++) { /* none, once the server stopped */
        free(f->clients[i]->greeting);
        free(f->clients[i]);
    }
    free(f->clients);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static void add_note(sse_feed *f, int warn, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add_note(sse_feed *f, int warn, const char *fmt, ...)
{
    if (f->note_count == MAX_NOTES) {
        f->notes_lost++;
        return;
    }
    size_t slot = (f->note_first + f->note_count) % MAX_NOTES;
    f->note_warn[slot] = warn;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->notes[slot], NOTE_SIZE, fmt, ap);
    va_end(ap);
    f->note_count++;
}

/* Under the lock. The shutdown wakes the server's thread if it is blocked
 * sending to this client; the socket is still open, because the server
 * closes it only after feed_leave, which takes the lock. */
static void drop_client(sse_feed *f, sse_client *c, const char *why)
{
    c->dropped = 1;
    f->dropped++;
    if (c->fd >= 0)
        shutdown(c->fd, SHUT_RDWR);
    add_note(f, 1, "dropped the dashboard page at %s: %s", c->peer, why);
    pthread_cond_broadcast(&f->cond);
}

static void evict_oldest(sse_feed *f)
{
    uint64_t seq = f->first_seq;
    for (size_t i = 0; i < f->nclients; i++) {
        sse_client *c = f->clients[i];
        if (!c->dropped && c->cursor <= seq)
            drop_client(f, c, "too slow, it fell a whole client_buffer behind");
    }
    feed_msg *m = &f->ring[seq % MAX_RING_MESSAGES];
    f->bytes -= m->len;
    free(m->text);
    m->text = NULL;
    f->first_seq++;
}

size_t feed_publish(sse_feed *f, const char *event, const char *data, size_t len)
{
    size_t header = strlen("event: \ndata: ") + strlen(event), total = header + len + 2;
    char *text = malloc(total + 1);
    if (text == NULL)
        return 0; /* the pages miss one update; the next snapshot has it */
    snprintf(text, total + 1, "event: %s\ndata: ", event);
    memcpy(text + header, data, len);
    memcpy(text + header + len, "\n\n", 3);

    pthread_mutex_lock(&f->lock);
    if (f->closed) {
        pthread_mutex_unlock(&f->lock);
        free(text);
        return 0;
    }
    uint64_t dropped_before = f->dropped;
    while (f->next_seq > f->first_seq &&
           (f->next_seq - f->first_seq == MAX_RING_MESSAGES || f->bytes + total > f->max_bytes))
        evict_oldest(f);
    f->ring[f->next_seq % MAX_RING_MESSAGES] = (feed_msg){text, total};
    f->next_seq++;
    f->bytes += total;
    pthread_cond_broadcast(&f->cond);
    size_t dropped = (size_t)(f->dropped - dropped_before);
    pthread_mutex_unlock(&f->lock);
    return dropped;
}

static int client_pending(const sse_feed *f, const sse_client *c)
{
    return c->greeting_off < c->greeting_len || c->cursor < f->next_seq;
}

void feed_close(sse_feed *f, int64_t linger_ms)
{
    pthread_mutex_lock(&f->lock);
    f->closed = 1;
    pthread_cond_broadcast(&f->cond);
    struct timespec deadline = mono_deadline(linger_ms);
    for (;;) {
        int waiting = 0;
        for (size_t i = 0; i < f->nclients; i++)
            waiting += !f->clients[i]->dropped && !f->clients[i]->finished;
        if (waiting == 0 || pthread_cond_timedwait(&f->cond, &f->lock, &deadline) == ETIMEDOUT)
            break;
    }
    for (size_t i = 0; i < f->nclients; i++) {
        sse_client *c = f->clients[i];
        if (!c->dropped && !c->finished && client_pending(f, c))
            drop_client(f, c, "it had not received the final results when the linger time was over");
    }
    pthread_mutex_unlock(&f->lock);
}

sse_client *feed_join(sse_feed *f, char *greeting, size_t greeting_len, int fd, const char *peer)
{
    pthread_mutex_lock(&f->lock);
    if (f->nclients == f->max_clients) {
        f->refused++;
        add_note(f, 1, "refused a dashboard page at %s: %zu pages are open already (max_clients)", peer,
                 f->max_clients);
        pthread_mutex_unlock(&f->lock);
        free(greeting);
        return NULL;
    }
    sse_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        pthread_mutex_unlock(&f->lock);
        free(greeting);
        return NULL;
    }
    c->greeting = greeting;
    c->greeting_len = greeting_len;
    c->cursor = f->next_seq;
    c->fd = fd;
    snprintf(c->peer, sizeof c->peer, "%s", peer);
    f->clients[f->nclients++] = c;
    f->joined++;
    add_note(f, 0, "dashboard page opened from %s (%zu open)", peer, f->nclients);
    pthread_mutex_unlock(&f->lock);
    return c;
}

/* Copies what is due to c into buf; under the lock. */
static size_t copy_pending(sse_feed *f, sse_client *c, char *buf, size_t max)
{
    size_t n = 0;
    if (c->greeting_off < c->greeting_len) {
        size_t k = c->greeting_len - c->greeting_off;
        if (k > max)
            k = max;
        memcpy(buf, c->greeting + c->greeting_off, k);
        c->greeting_off += k;
        n += k;
        if (c->greeting_off == c->greeting_len) {
            free(c->greeting);
            c->greeting = NULL;
            c->greeting_len = c->greeting_off = 0;
        }
    }
    while (n < max && c->cursor < f->next_seq) {
        const feed_msg *m = &f->ring[c->cursor % MAX_RING_MESSAGES];
        size_t k = m->len - c->offset;
        if (k > max - n)
            k = max - n;
        memcpy(buf + n, m->text + c->offset, k);
        n += k;
        c->offset += k;
        if (c->offset == m->len) {
            c->cursor++;
            c->offset = 0;
        }
    }
    return n;
}

ssize_t feed_read(sse_feed *f, sse_client *c, char *buf, size_t max)
{
    static const char keepalive[] = ": keepalive\n\n";
    pthread_mutex_lock(&f->lock);
    struct timespec deadline = mono_deadline(f->keepalive_ms);
    ssize_t result;
    for (;;) {
        if (c->dropped) {
            result = -1;
            break;
        }
        size_t n = copy_pending(f, c, buf, max);
        if (n > 0) {
            result = (ssize_t)n;
            break;
        }
        if (f->closed) {
            c->finished = 1;
            pthread_cond_broadcast(&f->cond); /* feed_close may be waiting for this */
            result = 0;
            break;
        }
        if (pthread_cond_timedwait(&f->cond, &f->lock, &deadline) == ETIMEDOUT) {
            /* A write now and then is how a page that went away is noticed. */
            size_t k = sizeof keepalive - 1 < max ? sizeof keepalive - 1 : max;
            memcpy(buf, keepalive, k);
            result = (ssize_t)k;
            break;
        }
    }
    pthread_mutex_unlock(&f->lock);
    return result;
}

void feed_leave(sse_feed *f, sse_client *c)
{
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->nclients; i++) {
        if (f->clients[i] == c) {
            f->clients[i] = f->clients[--f->nclients];
            break;
        }
    }
    if (!c->dropped && !f->closed)
        add_note(f, 0, "dashboard page at %s closed (%zu open)", c->peer, f->nclients);
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
    free(c->greeting);
    free(c);
}

feed_stats feed_get_stats(sse_feed *f)
{
    pthread_mutex_lock(&f->lock);
    feed_stats s = {f->nclients, f->joined, f->dropped,
                    f->refused,  f->bytes,  (size_t)(f->next_seq - f->first_seq)};
    pthread_mutex_unlock(&f->lock);
    return s;
}

int feed_take_note(sse_feed *f, char *buf, size_t size, int *warn)
{
    pthread_mutex_lock(&f->lock);
    int got = 0;
    *warn = 0;
    if (f->note_count > 0) {
        snprintf(buf, size, "%s", f->notes[f->note_first]);
        *warn = f->note_warn[f->note_first];
        f->note_first = (f->note_first + 1) % MAX_NOTES;
        f->note_count--;
        got = 1;
    } else if (f->notes_lost > 0) {
        snprintf(buf, size, "%llu more dashboard client events not logged",
                 (unsigned long long)f->notes_lost);
        f->notes_lost = 0;
        got = 1;
    }
    pthread_mutex_unlock(&f->lock);
    return got;
}
