#include <pthread.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static int counter;

int bump(int fail)
{
    pthread_mutex_lock(&m);
    counter++;
    if (fail)
        return -1;
    pthread_mutex_unlock(&m);
    return 0;
}
