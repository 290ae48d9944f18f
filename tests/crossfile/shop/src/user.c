/* Uses the contracts of include/queue.h and the wrappers of src/table.c,
 * src/pair.c: every finding here needs another file of the project. */
#include "../include/queue.h"

struct table;
struct pair;
struct stats {
    long hits;
};

void table_lock(struct table *t);
void table_unlock(struct table *t);
void table_hold(struct table *t);
void pair_lock(struct pair *p);
void pair_unlock(struct pair *p);

/* not the wrapper of src/stats.c: this file's own static function */
static void stats_lock(struct stats *s)
{
    s->hits++;
}

int user_push(struct queue *q, int v)
{
    queue_lock(q);
    if (v < 0)
        return -1; /* lock-leak: queue_lock() takes it (include/queue.h) */
    queue_push_locked(q, v);
    queue_unlock(q);
    return 0;
}

int user_peek(struct queue *q)
{
    int n;

    if (!queue_trylock(q))
        return -1;
    n = q->len;
    queue_unlock(q);
    return n;
}

void user_forgot(struct queue *q)
{
    queue_lock(q);
    queue_unlock(q);
    queue_drain_locked(q); /* missing-required-lock: REQUIRES() in include/queue.h */
}

void user_read(struct queue *q)
{
    queue_reader_enter(q);
    queue_reader_exit(q);
    queue_reader_exit(q); /* unlock-unheld: RELEASE() in include/queue.h */
}

int user_inline(struct queue *q)
{
    queue_lock_inline(q);
    if (q->len == 0)
        return 0; /* lock-leak: the header's static inline wrapper */
    queue_unlock(q);
    return 1;
}

void user_twice(struct table *t)
{
    table_lock(t);
    table_lock(t); /* double-lock: table_lock() wraps a lock (src/table.c) */
    table_unlock(t);
}

int user_pair(struct pair *p, int v)
{
    pair_lock(p);
    if (v)
        return v; /* lock-leak: pair_lock() wraps table_lock() (src/pair.c) */
    pair_unlock(p);
    return 0;
}

/* table_hold is static in src/table.c: not a lock function here */
void user_hold(struct table *t, int v)
{
    table_hold(t);
    if (v)
        return;
    table_unlock(t);
}

/* stats_lock is this file's static function: not src/stats.c's wrapper */
void user_stats(struct stats *s)
{
    stats_lock(s);
}
