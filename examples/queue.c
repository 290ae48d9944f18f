/*
 * queue.c - a bounded, prioritised job queue for a worker pool.
 *
 * Producers push jobs, workers pop them (optionally blocking until one is
 * available).  Inside this file the queue mutex is taken directly; other
 * modules go through queue_lock()/queue_unlock() (see queue.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "queue.h"

int queue_init(struct queue *q, size_t cap)
{
    int rc, p;

    if (cap == 0)
        return -EINVAL;
    rc = pthread_mutex_init(&q->lock, NULL);
    if (rc != 0)
        return -rc;
    rc = pthread_cond_init(&q->nonempty, NULL);
    if (rc != 0) {
        pthread_mutex_destroy(&q->lock);
        return -rc;
    }
    for (p = 0; p < QUEUE_MAX_PRIO; p++)
        q->head[p] = q->tail[p] = NULL;
    q->len = 0;
    q->cap = cap;
    q->next_id = 1;
    q->closed = 0;
    return 0;
}

/* Append `job` to its priority list.  Caller holds q->lock. */
static void link_job(struct queue *q, struct job *job)
{
    job->next = NULL;
    if (q->tail[job->prio])
        q->tail[job->prio]->next = job;
    else
        q->head[job->prio] = job;
    q->tail[job->prio] = job;
}

int queue_push(struct queue *q, struct job *job)
{
    if (job->prio < 0 || job->prio >= QUEUE_MAX_PRIO)
        return -EINVAL;

    pthread_mutex_lock(&q->lock);
    if (q->closed) {
        pthread_mutex_unlock(&q->lock);
        return -EPIPE;
    }
    if (q->len >= q->cap) {
        pthread_mutex_unlock(&q->lock);
        return -EAGAIN;
    }
    job->id = q->next_id++;
    link_job(q, job);
    q->len++;
    pthread_cond_signal(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

struct job *queue_pop(struct queue *q, int wait)
{
    struct job *job = NULL;
    int p;

    pthread_mutex_lock(&q->lock);
    while (q->len == 0 && !q->closed) {
        if (!wait) {
            pthread_mutex_unlock(&q->lock);
            return NULL;
        }
        pthread_cond_wait(&q->nonempty, &q->lock);
    }
    /* Highest priority first; a closed queue still hands out what it has. */
    for (p = QUEUE_MAX_PRIO - 1; p >= 0; p--) {
        job = q->head[p];
        if (!job)
            continue;
        q->head[p] = job->next;
        if (!q->head[p])
            q->tail[p] = NULL;
        q->len--;
        break;
    }
    pthread_mutex_unlock(&q->lock);
    return job;
}

size_t queue_drain(struct queue *q, void (*dispose)(struct job *))
{
    pthread_mutex_t *l = &q->lock;      /* local alias, used consistently */
    struct job *list = NULL, *job;
    size_t n = 0;
    int p;

    pthread_mutex_lock(l);
    for (p = 0; p < QUEUE_MAX_PRIO; p++) {
        if (!q->head[p])
            continue;
        q->tail[p]->next = list;
        list = q->head[p];
        q->head[p] = q->tail[p] = NULL;
    }
    q->len = 0;
    pthread_mutex_unlock(l);

    /* Dispose outside the lock: callbacks may push new jobs. */
    while ((job = list) != NULL) {
        list = job->next;
        dispose(job);
        n++;
    }
    return n;
}

int queue_set_capacity(struct queue *q, size_t cap)
{
    if (cap == 0)
        return -EINVAL;

    queue_lock(q);
    if (q->closed) {
        queue_unlock(q);
        return -EPIPE;
    }
    if (cap < q->len)
        return -EBUSY; /* BUG: lock-leak */
    q->cap = cap;
    queue_unlock(q);
    return 0;
}

/* Move job `id` to priority `prio`; returns 0, -ENOENT or -EPIPE. */
int queue_reprioritize(struct queue *q, unsigned long id, int prio)
{
    struct job *job = NULL, *prev;
    int rc = -ENOENT;
    int p;

    if (prio < 0 || prio >= QUEUE_MAX_PRIO)
        return -EINVAL;

    pthread_mutex_lock(&q->lock);
    if (q->closed) {
        rc = -EPIPE;
        goto out;               /* jumps past the unlock below */
    }
    for (p = 0; p < QUEUE_MAX_PRIO && !job; p++) {
        prev = NULL;
        for (job = q->head[p]; job; prev = job, job = job->next) {
            if (job->id != id)
                continue;
            if (prev)
                prev->next = job->next;
            else
                q->head[p] = job->next;
            if (q->tail[p] == job)
                q->tail[p] = prev;
            break;
        }
    }
    if (job) {
        job->prio = prio;
        link_job(q, job);
        rc = 0;
    }
    pthread_mutex_unlock(&q->lock);
out:
    return rc; /* BUG: lock-leak */
}

/* Best-effort length for monitoring: never blocks, -1 when the queue is busy. */
long queue_len_nowait(struct queue *q)
{
    long len = -1;

    if (pthread_mutex_trylock(&q->lock) == 0) {
        len = (long)q->len;
        pthread_mutex_unlock(&q->lock);
    }
    return len;
}

void queue_close(struct queue *q)
{
    queue_lock(q);
    q->closed = 1;
    pthread_cond_broadcast(&q->nonempty);
    queue_unlock(q);
}
