"""Path facts, lock states and the fixpoint over a CFG; what a function does to its callers (summaries, contracts); the lock-order graph."""
