#include "inventory.h"

/* clean: the macros take and drop the lock */
int bin_add(struct bin *b, int n)
{
    bin_lock(b);
    b->count += n;
    bin_unlock(b);
    return 0;
}

/* bug: the early return leaks the lock taken through the macro */
int bin_take(struct bin *b, int n)
{
    bin_lock(b);
    if (b->count < n)
        return -1;
    b->count -= n;
    bin_unlock(b);
    return 0;
}

/* clean: takes the lock and hands it to a releaser in another file */
void bin_put(struct bin *b)
{
    bin_lock(b);
    bin_put_and_unlock(b);
}

/* clean: relies on bin_open returning with the lock held */
int bin_peek(struct bin *b)
{
    int n;

    bin_open(b);
    n = b->count;
    bin_unlock(b);
    return n;
}
