/* A device's interface: what its data is guarded by and the order of the
 * registry locks, declared once here for every file of the driver. */
#ifndef DEV_H
#define DEV_H

#include <pthread.h>

#define GUARDED_BY(x) __attribute__((guarded_by(x)))
#define ACQUIRED_BEFORE(...) __attribute__((acquired_before(__VA_ARGS__)))

struct dev {
    pthread_mutex_t lock;
    int count GUARDED_BY(lock);
    const char *name;
};

struct dev_ops {
    int (*read)(struct dev *d);
    void (*reset)(struct dev *d);
};

extern pthread_mutex_t registry_lock ACQUIRED_BEFORE(stats_lock);
extern pthread_mutex_t stats_lock;

int dev_read(struct dev *d);
void dev_reset(struct dev *d);

#endif
