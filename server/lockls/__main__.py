"""`python -m lockls`: the same as the `lockls` command."""

import sys

from .cli import main

sys.exit(main())
