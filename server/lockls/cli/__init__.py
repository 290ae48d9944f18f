"""The `--check` front-end: planning a run (configurations, project contracts, the result cache) and the worker pool."""
