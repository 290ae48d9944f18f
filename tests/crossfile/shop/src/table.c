/* Lock wrappers without annotations: recognised from their bodies. */
#include <pthread.h>

struct table {
    pthread_mutex_t mu;
    int n;
};

void table_lock(struct table *t)
{
    pthread_mutex_lock(&t->mu);
}

void table_unlock(struct table *t)
{
    pthread_mutex_unlock(&t->mu);
}

/* static: a wrapper for this file only, says nothing about other files */
static void table_hold(struct table *t)
{
    pthread_mutex_lock(&t->mu);
}

void table_reset(struct table *t)
{
    table_hold(t);
    t->n = 0;
    table_unlock(t);
}
