/* Uses the cart's contracts: each finding needs both headers. */
#include "cart.h"

int checkout(struct cart *c, int n)
{
    cart_lock(c);
    if (n < 0)
        return -1;
    cart_add_locked(c, n);
    cart_unlock(c);
    cart_add_locked(c, 1);
    return c->items;
}

/* a definition annotated with the project's macro */
void cart_clear_locked(struct cart *c) SHOP_REQUIRES(c->mu)
{
    c->items = 0;
}
