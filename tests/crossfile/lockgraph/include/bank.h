/* The lock graph across files: post.c takes an account's lock, then a ledger's;
   audit.c takes a ledger's, then (through a helper) an account's. */
#include <pthread.h>

struct account {
    pthread_mutex_t lock;
    long balance;
};

struct ledger {
    pthread_mutex_t lock;
    long entries;
};

void post(struct account *a, struct ledger *l);
void audit(struct account *a, struct ledger *l);
