/* The queue's interface: lock contracts on prototypes, in the kernel's spelling
 * and in clang's through macros defined here. lockls reads no #include: these
 * count in the other files because the header is part of the run. */
#ifndef QUEUE_H
#define QUEUE_H

#include <pthread.h>

#define ACQUIRE(...) __attribute__((acquire_capability(__VA_ARGS__)))
#define RELEASE(...) __attribute__((release_capability(__VA_ARGS__)))
#define TRY_ACQUIRE(...) __attribute__((try_acquire_capability(__VA_ARGS__)))
#define REQUIRES(...) __attribute__((requires_capability(__VA_ARGS__)))

struct queue {
    pthread_mutex_t lock;
    int len;
};

void queue_lock(struct queue *q) __acquires(&q->lock);
void queue_unlock(struct queue *q) __releases(&q->lock);
void queue_push_locked(struct queue *q, int v) __must_hold(&q->lock);

int queue_trylock(struct queue *q) TRY_ACQUIRE(1, &q->lock);
void queue_reader_enter(struct queue *q) ACQUIRE(&q->lock);
void queue_reader_exit(struct queue *q) RELEASE(&q->lock);
void queue_drain_locked(struct queue *q) REQUIRES(&q->lock);

/* a static inline wrapper in a header: every includer sees it */
static inline void queue_lock_inline(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
}

#endif
