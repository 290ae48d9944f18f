#include "inventory.h"

void bin_lock_at(struct bin *b, const char *where)
{
    (void)where;
    pthread_mutex_lock(&b->mu);
}

void bin_unlock_at(struct bin *b, const char *where)
{
    (void)where;
    pthread_mutex_unlock(&b->mu);
}

/* releases the caller's lock on every path, whatever its size */
void bin_put_and_unlock(struct bin *b)
{
    b->refs--;
    if (b->refs == 0) {
        b->count = 0;
        bin_unlock(b);
        return;
    }
    b->count--;
    bin_unlock(b);
}

/* an acquire function that src/use.c relies on */
void bin_open(struct bin *b)
{
    bin_lock(b);
    b->refs++;
    b->count++;
}

/* the forgotten unlock: nobody expects bin_reset to return holding the lock */
void bin_reset(struct bin *b)
{
    bin_lock(b);
    b->count = 0;
}

/* opted out through the project's own macro, defined in include/compat.h */
void bin_hand_off(struct bin *b) INV_NO_ANALYSIS
{
    bin_lock(b);
}
