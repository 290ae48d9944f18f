/* The project's spelling of the thread-safety attributes. */
#ifndef COMPILER_H
#define COMPILER_H
#define SHOP_REQUIRES(...) __attribute__((requires_capability(__VA_ARGS__)))
#define SHOP_ACQUIRES(...) __attribute__((acquire_capability(__VA_ARGS__)))
#define SHOP_RELEASES(...) __attribute__((release_capability(__VA_ARGS__)))
#define SHOP_GUARDED_BY(x) __attribute__((guarded_by(x)))
#endif
