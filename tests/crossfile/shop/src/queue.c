/* The queue: defines what include/queue.h declares. */
#include "../include/queue.h"

void queue_lock(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
}

void queue_unlock(struct queue *q)
{
    pthread_mutex_unlock(&q->lock);
}

int queue_trylock(struct queue *q)
{
    if (pthread_mutex_trylock(&q->lock) != 0)
        return 0;
    return 1;
}

/* the header says the caller holds q->lock: taking it again is a bug */
void queue_push_locked(struct queue *q, int v)
{
    pthread_mutex_lock(&q->lock); /* double-lock: __must_hold() in include/queue.h */
    q->len += v;
    pthread_mutex_unlock(&q->lock);
}

void queue_drain_locked(struct queue *q)
{
    q->len = 0;
}
