/*
 * queue.h - a bounded job queue shared by worker threads.
 *
 * The queue is protected by its own mutex.  Callers outside queue.c take it
 * through queue_lock()/queue_unlock(), which live in the platform layer
 * (lockdebug.c, not part of this example) so that lock statistics can be
 * collected in debug builds.  .lockls.toml tells lockls what they do.
 */
#ifndef EXAMPLES_QUEUE_H
#define EXAMPLES_QUEUE_H

#include <pthread.h>
#include <stddef.h>

#define QUEUE_MAX_PRIO 4

struct job {
    struct job *next;
    unsigned long id;
    int prio;
    void (*run)(void *arg);
    void *arg;
};

struct queue {
    pthread_mutex_t lock;           /* protects everything below */
    pthread_cond_t nonempty;
    struct job *head[QUEUE_MAX_PRIO];
    struct job *tail[QUEUE_MAX_PRIO];
    size_t len;
    size_t cap;
    unsigned long next_id;
    int closed;
};

/* Project lock wrappers (declared only: their bodies are in lockdebug.c). */
void queue_lock(struct queue *q);
void queue_unlock(struct queue *q);

int queue_init(struct queue *q, size_t cap);
int queue_push(struct queue *q, struct job *job);
struct job *queue_pop(struct queue *q, int wait);
size_t queue_drain(struct queue *q, void (*dispose)(struct job *));
int queue_set_capacity(struct queue *q, size_t cap);
int queue_reprioritize(struct queue *q, unsigned long id, int prio);
long queue_len_nowait(struct queue *q);
void queue_close(struct queue *q);

#endif /* EXAMPLES_QUEUE_H */
