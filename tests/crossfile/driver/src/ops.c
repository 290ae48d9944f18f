/* The method table: the framework calls these with no lock held. */
#include "dev.h"

const struct dev_ops dev_ops = {
    .read = dev_read,
    .reset = &dev_reset,
};
