/* The cart's interface, annotated with the macros of compiler.h. */
#ifndef CART_H
#define CART_H
#include <pthread.h>
#include "compiler.h"

struct cart {
    pthread_mutex_t mu;
    int items SHOP_GUARDED_BY(mu);
};

void cart_lock(struct cart *c) SHOP_ACQUIRES(c->mu);
void cart_unlock(struct cart *c) SHOP_RELEASES(c->mu);
void cart_add_locked(struct cart *c, int n) SHOP_REQUIRES(c->mu);
#endif
