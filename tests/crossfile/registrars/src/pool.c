/* The pool's functions: each is an entry point because of another file. */
#include "pool.h"

void *pool_worker(void *arg)
{
    struct pool *p = arg;

    p->jobs--;
    return NULL;
}

void pool_event(void *arg)
{
    struct pool *p = arg;

    pthread_mutex_unlock(&p->lock);
}

int pool_count(struct pool *p)
{
    return p->jobs;
}

/* start.c starts a static function of its own with this name: not this one */
void *pool_helper(void *arg)
{
    struct pool *p = arg;

    return p->jobs ? arg : NULL;
}
