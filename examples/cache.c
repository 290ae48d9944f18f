/*
 * cache.c - a cache of open connections, keyed by host and port.
 *
 * The table is protected by c->lock; the tunables by the reader/writer lock
 * c->cfg_lock.  The background reaper uses cache_trylock()/cache_unlock(),
 * debug-instrumented wrappers from the platform layer (declared below, defined
 * in lockdebug.c, which is not part of this example).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CACHE_BUCKETS 64

struct conn {
    struct conn *next;
    char *host;
    int port;
    int fd;
    int refs;
    time_t last_used;
};

struct cache {
    pthread_mutex_t lock;           /* protects buckets, count, idle */
    pthread_rwlock_t cfg_lock;      /* protects the tunables */
    struct conn *buckets[CACHE_BUCKETS];
    size_t count;
    size_t idle;
    size_t max_conns;
    long connect_timeout_ms;
    long max_idle_s;
    unsigned long hits, misses;
};

enum cache_opt { CACHE_OPT_TIMEOUT, CACHE_OPT_MAX_IDLE, CACHE_OPT_RESET_STATS };

/* Platform-layer wrappers: cache_trylock() returns non-zero when it got the lock. */
int cache_trylock(struct cache *c);
void cache_unlock(struct cache *c);

int net_dial(const char *host, int port, long timeout_ms);

static unsigned bucket_of(const char *host, int port)
{
    unsigned h = 2166136261u;

    while (*host)
        h = (h ^ (unsigned char)*host++) * 16777619u;
    return (h ^ (unsigned)port) % CACHE_BUCKETS;
}

/* Caller holds c->lock. */
static struct conn *find_locked(struct cache *c, const char *host, int port)
{
    struct conn *conn;

    for (conn = c->buckets[bucket_of(host, port)]; conn; conn = conn->next)
        if (conn->port == port && strcmp(conn->host, host) == 0)
            return conn;
    return NULL;
}

int cache_get(struct cache *c, const char *host, int port)
{
    struct conn *conn;
    int fd;

    pthread_mutex_lock(&c->lock);
    conn = find_locked(c, host, port);
    if (!conn) {
        c->misses++;
        pthread_mutex_unlock(&c->lock);
        return -ENOENT;
    }
    if (conn->refs++ == 0)
        c->idle--;
    c->hits++;
    fd = conn->fd;
    pthread_mutex_unlock(&c->lock);
    return fd;
}

int cache_put(struct cache *c, const char *host, int port, int fd)
{
    struct conn *conn;
    unsigned b = bucket_of(host, port);

    pthread_mutex_lock(&c->lock);
    if (find_locked(c, host, port)) {
        pthread_mutex_unlock(&c->lock);
        return -EEXIST;
    }
    conn = calloc(1, sizeof(*conn));
    if (!conn)
        return -ENOMEM; /* BUG: lock-leak */
    conn->host = strdup(host);
    conn->port = port;
    conn->fd = fd;
    conn->next = c->buckets[b];
    c->buckets[b] = conn;
    c->count++;
    c->idle++;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

/* Dial `host` and add the connection, unless the cache is full. */
int cache_connect(struct cache *c, const char *host, int port)
{
    struct conn *conn;
    long timeout;
    unsigned b;
    int fd, rc;

    pthread_rwlock_rdlock(&c->cfg_lock);
    timeout = c->connect_timeout_ms;
    pthread_rwlock_unlock(&c->cfg_lock);

    fd = net_dial(host, port, timeout);
    if (fd < 0)
        return fd;

    pthread_mutex_lock(&c->lock);
    if (c->count >= c->max_conns) {
        rc = -ENOSPC;
        goto err_unlock;
    }
    conn = calloc(1, sizeof(*conn));
    if (!conn) {
        rc = -ENOMEM;
        goto err_unlock;
    }
    conn->host = strdup(host);
    if (!conn->host) {
        rc = -ENOMEM;
        goto err_free;
    }
    conn->port = port;
    conn->fd = fd;
    conn->refs = 1;
    b = bucket_of(host, port);
    conn->next = c->buckets[b];
    c->buckets[b] = conn;
    c->count++;
    pthread_mutex_unlock(&c->lock);
    return fd;

err_free:
    free(conn);
err_unlock:
    pthread_mutex_unlock(&c->lock);
    close(fd);
    return rc;
}

/* Close idle connections older than max_idle_s; skipped if someone else holds the table. */
size_t cache_reap(struct cache *c, time_t now, size_t budget)
{
    struct conn **pp, *conn;
    size_t closed = 0;
    long max_idle;
    int b;

    pthread_rwlock_rdlock(&c->cfg_lock);
    max_idle = c->max_idle_s;
    pthread_rwlock_unlock(&c->cfg_lock);

    if (!cache_trylock(c))
        return 0;
    for (b = 0; b < CACHE_BUCKETS && closed < budget; b++) {
        pp = &c->buckets[b];
        while ((conn = *pp) != NULL) {
            if (conn->refs > 0 || now - conn->last_used < max_idle) {
                pp = &conn->next;
                continue;
            }
            *pp = conn->next;
            close(conn->fd);
            free(conn->host);
            free(conn);
            c->count--;
            c->idle--;
            if (++closed == budget)
                break;
        }
    }
    cache_unlock(c);
    return closed;
}

int cache_configure(struct cache *c, enum cache_opt opt, long value)
{
    pthread_rwlock_wrlock(&c->cfg_lock);
    switch (opt) {
    case CACHE_OPT_TIMEOUT:
        if (value <= 0) {
            pthread_rwlock_unlock(&c->cfg_lock);
            return -EINVAL;
        }
        c->connect_timeout_ms = value;
        pthread_rwlock_unlock(&c->cfg_lock);
        return 0;
    case CACHE_OPT_MAX_IDLE:
        c->max_idle_s = value;
        /* A new idle limit also restarts the statistics. */
        /* fall through */
    case CACHE_OPT_RESET_STATS:
        c->hits = c->misses = 0;
        pthread_rwlock_unlock(&c->cfg_lock);
        return 0;
    default:
        pthread_rwlock_unlock(&c->cfg_lock);
        return -EINVAL;
    }
}

/* Give back a connection obtained with cache_get(). */
void cache_release(struct cache *c, const char *host, int port)
{
    struct conn *conn;
    int rc;

    rc = pthread_mutex_trylock(&c->lock);
    if (rc != 0)
        goto out;               /* contended: the reaper will catch up */
    conn = find_locked(c, host, port);
    if (conn && --conn->refs == 0) {
        conn->last_used = time(NULL);
        c->idle++;
    }
out:
    pthread_mutex_unlock(&c->lock); /* BUG: unlock-unheld */
}
