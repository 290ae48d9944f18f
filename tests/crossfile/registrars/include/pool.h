/* A worker pool: its functions are defined in pool.c, started in start.c and
 * listed in ops.c. */
#ifndef POOL_H
#define POOL_H

#include <pthread.h>

struct pool {
    pthread_mutex_t lock;
    int jobs;
};

struct pool_ops {
    int (*count)(struct pool *p);
};

#define DEFINE_POOL_OPS(name, ...) const struct pool_ops name = { __VA_ARGS__ }

void *pool_worker(void *arg);
void pool_event(void *arg);
int pool_count(struct pool *p);
void pool_on(int event, void (*handler)(void *), void *arg);

#endif
