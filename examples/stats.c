/*
 * stats.c - request statistics: counters, a latency histogram and a ring of
 * per-minute windows, updated by workers and read by the metrics exporter.
 *
 * Three locks with different jobs: s->lock (C11 mutex) for the histogram and
 * totals, s->windows_lock (rwlock) for the window ring, and s->counter_lock
 * (spinlock) for the hot per-request counters.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <threads.h>

#define HIST_BUCKETS 16
#define NWINDOWS 60

enum stat_kind { STAT_REQUEST, STAT_LATENCY, STAT_ERROR };

struct counters {
    unsigned long requests;
    unsigned long errors;
};

struct window {
    unsigned long requests;
    unsigned long errors;
    long max_latency_us;
};

struct stats {
    mtx_t lock;                     /* protects hist, events, total_us */
    unsigned long hist[HIST_BUCKETS];
    unsigned long events;
    long long total_us;

    pthread_rwlock_t windows_lock;  /* protects windows, nwindows */
    struct window windows[NWINDOWS];
    int nwindows;

    pthread_spinlock_t counter_lock;
    struct counters counters;
};

static int hist_bucket(long us)
{
    int b = 0;

    while (us > 1 && b < HIST_BUCKETS - 1) {
        us >>= 1;
        b++;
    }
    return b;
}

void stats_record(struct stats *s, enum stat_kind kind, long value)
{
    if (kind == STAT_LATENCY) {
        mtx_lock(&s->lock);
        s->hist[hist_bucket(value)]++;
        /* ...and on to the common accounting below, still holding it */
    }
    mtx_lock(&s->lock); /* BUG: double-lock */
    s->events++;
    s->total_us += value;
    mtx_unlock(&s->lock);
}

/* Cheap path for the request loop: skip the sample if the histogram is busy. */
int stats_try_sample(struct stats *s, long us)
{
    mtx_t *m = &s->lock;

    if (mtx_trylock(m) != thrd_success)
        return -EBUSY;
    s->hist[hist_bucket(us)]++;
    s->events++;
    s->total_us += us;
    mtx_unlock(m);
    return 0;
}

void stats_count(struct stats *s, enum stat_kind kind)
{
    pthread_spin_lock(&s->counter_lock);
    switch (kind) {
    case STAT_ERROR:
        s->counters.errors++;
        /* fall through */
    case STAT_REQUEST:
        s->counters.requests++;
        break;
    default:
        break;
    }
    pthread_spin_unlock(&s->counter_lock);
}

/* Start a new window, dropping the oldest one when the ring is full. */
void stats_rotate(struct stats *s)
{
    pthread_rwlock_wrlock(&s->windows_lock);
    if (s->nwindows < NWINDOWS) {
        memset(&s->windows[s->nwindows++], 0, sizeof(struct window));
        pthread_rwlock_unlock(&s->windows_lock);
        return;
    }
    memmove(&s->windows[0], &s->windows[1],
            (NWINDOWS - 1) * sizeof(struct window));
    memset(&s->windows[NWINDOWS - 1], 0, sizeof(struct window));
} /* BUG: lock-leak */

/* Worst latency over the last `minutes` windows that saw traffic. */
long stats_max_latency(struct stats *s, int minutes)
{
    long worst = 0;
    int i, seen = 0;

    pthread_rwlock_rdlock(&s->windows_lock);
    for (i = s->nwindows - 1; i >= 0; i--) {
        const struct window *w = &s->windows[i];

        if (w->requests == 0)
            continue;
        if (w->max_latency_us > worst)
            worst = w->max_latency_us;
        if (++seen == minutes)
            break;
    }
    pthread_rwlock_unlock(&s->windows_lock);
    return worst;
}

int stats_export(struct stats *s, FILE *out)
{
    struct counters snap;
    unsigned long events;
    long long total;

    pthread_spin_lock(&s->counter_lock);
    snap = s->counters;
    pthread_spin_unlock(&s->counter_lock);

    mtx_lock(&s->lock);
    events = s->events;
    total = s->total_us;
    mtx_unlock(&s->lock);

    if (fprintf(out, "requests %lu\nerrors %lu\n", snap.requests, snap.errors) < 0) {
        pthread_spin_unlock(&s->counter_lock); /* BUG: unlock-unheld */
        return -EIO;
    }
    if (fprintf(out, "mean_latency_us %lld\n", events ? total / (long long)events : 0) < 0)
        return -EIO;
    return 0;
}
