/* The pool's method table, built by a macro. */
#include "pool.h"

DEFINE_POOL_OPS(pool_ops, .count = pool_count);
