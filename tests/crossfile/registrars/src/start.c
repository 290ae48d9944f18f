/* Starts the pool's thread and registers its event handler. */
#include "pool.h"

static void *pool_helper(void *arg)
{
    return arg;
}

void pool_start(struct pool *p)
{
    pthread_t worker, helper;

    pthread_create(&worker, NULL, pool_worker, p);
    pthread_create(&helper, NULL, pool_helper, p);
    pool_on(1, pool_event, p);
}
