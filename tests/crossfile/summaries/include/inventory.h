/* The lock API of the project: macros over annotated `_at` functions. */
#ifndef INVENTORY_H
#define INVENTORY_H
#include <pthread.h>
#include "compat.h"

struct bin {
    pthread_mutex_t mu;
    int count;
    int refs;
};

void bin_lock_at(struct bin *b, const char *where) INV_ACQUIRES(b->mu);
void bin_unlock_at(struct bin *b, const char *where) INV_RELEASES(b->mu);
#define bin_lock(b) bin_lock_at(b, __func__)
#define bin_unlock(b) \
    bin_unlock_at(b, __func__)

void bin_put_and_unlock(struct bin *b);
void bin_open(struct bin *b);
#endif
