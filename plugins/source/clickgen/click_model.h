/*
 * The behaviour behind clickgen's events: users who browse in sessions.
 *
 * Each user alternates sessions and absences. Within a session the pause
 * between clicks ("think time") is exponential and always well under the
 * session gap; a session ends after a geometric number of clicks; the user
 * comes back after the gap plus an exponential absence. URLs follow a Zipf
 * law. The next click overall is always the one with the earliest simulated
 * time (a min-heap of users), so the simulated clock only moves forward.
 *
 * Everything derives from one seeded generator: same seed and parameters,
 * same clicks.
 */
#ifndef CLICK_MODEL_H
#define CLICK_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* xoshiro256**: fast, 256 bits of state, good enough for synthetic data. */
typedef struct click_rng {
    uint64_t s[4];
} click_rng;

void click_rng_seed(click_rng *r, uint64_t seed);
uint64_t click_rng_next(click_rng *r);
double click_rng_uniform(click_rng *r);             /* [0, 1) */
uint64_t click_rng_below(click_rng *r, uint64_t n); /* [0, n), n > 0 */
double click_rng_exp(click_rng *r, double mean);    /* exponential */

/* A user's place in the heap: when their next click happens. */
typedef struct click_user {
    double next_ms;       /* simulated time of the next click */
    uint32_t user;        /* 1-based */
    uint32_t clicks_left; /* in the current session, this next click included */
    uint32_t last_url;    /* previous URL of the session (0 at a session start) */
    uint32_t reserved;
} click_user;

typedef struct click_params {
    uint32_t users, urls;
    double zipf;           /* exponent; 0 = uniform */
    double think_ms;       /* mean pause between clicks of a session */
    double session_clicks; /* mean clicks per session (>= 1) */
    double gap_ms;         /* a pause longer than this separates sessions */
    double disorder_ms;    /* how far clickgen may move a click back in time */
    double away_ms;        /* mean absence between sessions beyond the gap */
} click_params;

typedef struct click_model {
    click_params p;
    click_rng rng;
    double *url_cdf;  /* cumulative Zipf weights, url_cdf[urls-1] == 1 */
    click_user *heap; /* p.users entries, min-heap on next_ms */
} click_model;

/* One click as the model produced it. */
typedef struct click {
    double time_ms;    /* simulated, from 0 */
    uint32_t user;     /* 1-based */
    uint32_t url;      /* 1-based; 1 is the most popular */
    uint32_t referrer; /* previous URL of the session, 0 for a session's first click */
} click;

/* Allocates; returns 0, or -1 when out of memory. */
int click_model_init(click_model *m, const click_params *p, uint64_t seed);
void click_model_free(click_model *m);

/* The next click in simulated time order. */
void click_model_next(click_model *m, click *out);

/* A URL drawn from the Zipf law (1-based). */
uint32_t click_model_url(click_model *m);

/* Mean simulated time between two clicks (of anyone) in the steady state. */
double click_model_interval_ms(const click_params *p);
/* The absence (away_ms) that gives a mean interval of interval_ms, or a
 * negative value when even no absence is not enough with that many users. */
double click_model_away_for_interval(const click_params *p, double interval_ms);

#endif
