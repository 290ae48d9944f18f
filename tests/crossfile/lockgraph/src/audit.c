#include "bank.h"

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static long audited;

static void account_zero(struct account *acct)
{
    pthread_mutex_lock(&acct->lock);
    acct->balance = 0;
    pthread_mutex_unlock(&acct->lock);
}

void audit(struct account *a, struct ledger *l)
{
    pthread_mutex_lock(&l->lock);
    account_zero(a);
    pthread_mutex_unlock(&l->lock);
}

/* ledger then this file's stats_lock: no cycle with post.c's stats_lock */
void audit_count(struct ledger *l)
{
    pthread_mutex_lock(&l->lock);
    pthread_mutex_lock(&stats_lock);
    audited += l->entries;
    pthread_mutex_unlock(&stats_lock);
    pthread_mutex_unlock(&l->lock);
}
