"""C syntax made lock events and control-flow graphs."""
