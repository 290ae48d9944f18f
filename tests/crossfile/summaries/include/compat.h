/* Annotation macros written over several lines, as real projects do. */
#ifndef COMPAT_H
#define COMPAT_H
#define INV_ACQUIRES(...) \
    __attribute__((acquire_capability(__VA_ARGS__)))
#define INV_RELEASES(...) \
    __attribute__((release_capability(__VA_ARGS__)))
#define INV_NO_ANALYSIS \
    __attribute__((no_thread_safety_analysis))
#endif
