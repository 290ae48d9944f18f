/* The device: its entry points are listed in ops.c, its guards in dev.h. */
#include "dev.h"

int dev_read(struct dev *d)
{
    return d->count;
}

void dev_reset(struct dev *d)
{
    d->name = "reset";
    pthread_mutex_unlock(&d->lock);
}

int dev_count_locked(struct dev *d)
{
    return d->count;
}

void registry_stats(void)
{
    pthread_mutex_lock(&stats_lock);
    pthread_mutex_lock(&registry_lock);
    pthread_mutex_unlock(&registry_lock);
    pthread_mutex_unlock(&stats_lock);
}
