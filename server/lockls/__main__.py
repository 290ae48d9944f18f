"""`python -m lockls`: the same as the `lockls` command."""

import sys

from lockls.main import main

# The guard matters: worker processes started with "spawn" (macOS, Windows)
# import the main module again, and must not run the command a second time.
if __name__ == "__main__":
    sys.exit(main())
