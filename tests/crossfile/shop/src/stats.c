/* An exported wrapper whose name src/user.c also uses for a static function. */
#include <pthread.h>

struct stats {
    pthread_mutex_t mu;
    long hits;
};

void stats_lock(struct stats *s)
{
    pthread_mutex_lock(&s->mu);
}

void stats_unlock(struct stats *s)
{
    pthread_mutex_unlock(&s->mu);
}
