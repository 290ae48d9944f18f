#include <stdlib.h>
#include "../include/sync.h"

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static int entries;

/* clean: 0 means taken, as for pthreads */
int table_try_add(void)
{
    if (mutex_trylock(&table_lock) == 0) {
        entries++;
        mutex_unlock(&table_lock);
        return 0;
    }
    return -1;
}

/* bug: kept on the way out when the trylock succeeded */
int table_try_count(void)
{
    if (mutex_trylock(&table_lock) != 0)
        return -1;
    if (entries == 0)
        return 0;
    mutex_unlock(&table_lock);
    return entries;
}
