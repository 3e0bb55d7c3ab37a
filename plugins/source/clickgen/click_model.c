#include "click_model.h"

#include <math.h>
#include <stdlib.h>

/* ---- random numbers ------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void click_rng_seed(click_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t click_rng_next(click_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double click_rng_uniform(click_rng *r) { return (double)(click_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t click_rng_below(click_rng *r, uint64_t n)
{
    /* Lemire's multiply-shift; the bias is far below what synthetic data cares about. */
    return (uint64_t)(((unsigned __int128)click_rng_next(r) * n) >> 64);
}

double click_rng_exp(click_rng *r, double mean) { return -mean * log1p(-click_rng_uniform(r)); }

/* ---- the model ------------------------------------------------------------ */

/* Clicks of a new session: 1 + geometric, mean session_clicks. */
static uint32_t session_length(click_model *m)
{
    double mean = m->p.session_clicks;
    if (mean <= 1.0)
        return 1;
    double u = click_rng_uniform(&m->rng);
    double k = floor(log1p(-u) / log1p(-1.0 / mean));
    return k >= 1e6 ? 1000000u : 1u + (uint32_t)k;
}

/* Think time, kept under half the gap so a session never splits by accident. */
static double think_time(click_model *m)
{
    double t = click_rng_exp(&m->rng, m->p.think_ms);
    return t < m->p.gap_ms / 2 ? t : m->p.gap_ms / 2;
}

/* Between sessions: more than the gap even after clickgen moves a click back
 * by up to the disorder, then an exponential absence. */
static double absence(click_model *m)
{
    return m->p.gap_ms + m->p.disorder_ms + 1.0 + click_rng_exp(&m->rng, m->p.away_ms);
}

double click_model_interval_ms(const click_params *p)
{
    double k = p->session_clicks < 1 ? 1 : p->session_clicks;
    double cycle = (k - 1) * p->think_ms + p->gap_ms + p->disorder_ms + 1.0 + p->away_ms;
    return cycle / ((double)p->users * k);
}

double click_model_away_for_interval(const click_params *p, double interval_ms)
{
    double k = p->session_clicks < 1 ? 1 : p->session_clicks;
    return interval_ms * (double)p->users * k - (k - 1) * p->think_ms - p->gap_ms - p->disorder_ms - 1.0;
}

static void sift_down(click_user *h, size_t n, size_t i)
{
    click_user x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h[c + 1].next_ms < h[c].next_ms)
            c++;
        if (!(h[c].next_ms < x.next_ms))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

int click_model_init(click_model *m, const click_params *p, uint64_t seed)
{
    m->p = *p;
    click_rng_seed(&m->rng, seed);
    m->url_cdf = malloc(sizeof(double) * p->urls);
    m->heap = malloc(sizeof(click_user) * p->users);
    if (m->url_cdf == NULL || m->heap == NULL) {
        click_model_free(m);
        return -1;
    }
    double total = 0;
    for (uint32_t i = 0; i < p->urls; i++) {
        total += pow((double)i + 1.0, -p->zipf);
        m->url_cdf[i] = total;
    }
    for (uint32_t i = 0; i < p->urls; i++)
        m->url_cdf[i] /= total;
    m->url_cdf[p->urls - 1] = 1.0;
    /* Start in the steady state, not with everyone arriving at once: a user
     * is mid-session with the odds of the time spent in sessions, else
     * somewhere in an absence (the rest of a fixed gap plus a memoryless
     * exponential). */
    double k = p->session_clicks < 1 ? 1 : p->session_clicks;
    double in_session = (k - 1) * p->think_ms;
    double fixed = p->gap_ms + p->disorder_ms + 1.0;
    double cycle = in_session + fixed + p->away_ms;
    for (uint32_t i = 0; i < p->users; i++) {
        click_user *u = &m->heap[i];
        if (click_rng_uniform(&m->rng) * cycle < in_session) {
            u->next_ms = think_time(m);
        } else {
            double rest = click_rng_exp(&m->rng, p->away_ms);
            if (click_rng_uniform(&m->rng) * (fixed + p->away_ms) < fixed)
                rest += click_rng_uniform(&m->rng) * fixed;
            u->next_ms = rest;
        }
        u->user = i + 1;
        u->clicks_left = session_length(m);
        u->last_url = 0;
        u->reserved = 0;
    }
    for (size_t i = p->users / 2; i-- > 0;)
        sift_down(m->heap, p->users, i);
    return 0;
}

void click_model_free(click_model *m)
{
    free(m->url_cdf);
    free(m->heap);
    m->url_cdf = NULL;
    m->heap = NULL;
}

uint32_t click_model_url(click_model *m)
{
    double u = click_rng_uniform(&m->rng);
    uint32_t lo = 0, hi = m->p.urls - 1; /* first index with cdf > u */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (m->url_cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo + 1;
}

void click_model_next(click_model *m, click *out)
{
    click_user *u = &m->heap[0];
    out->time_ms = u->next_ms;
    out->user = u->user;
    out->url = click_model_url(m);
    out->referrer = u->last_url;
    if (--u->clicks_left > 0) {
        u->last_url = out->url;
        u->next_ms += think_time(m);
    } else {
        u->last_url = 0;
        u->clicks_left = session_length(m);
        u->next_ms += absence(m);
    }
    sift_down(m->heap, m->p.users, 0);
}
