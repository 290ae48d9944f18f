/* This project's own names for pthreads: a header's macros, which win over the linux
 * preset's `mutex_trylock` (taken when it returns non-zero). */
#include <pthread.h>

#define mutex_lock(x) pthread_mutex_lock(x)
#define mutex_trylock(x) pthread_mutex_trylock(x)
#define mutex_unlock(x) pthread_mutex_unlock(x)
