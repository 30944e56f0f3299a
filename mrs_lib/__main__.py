"""``python -m mrs_lib`` is the same as the ``mrs`` command."""

from .cli import main

raise SystemExit(main())
