"""``python -m gaussmix``: the command-line tool."""

from gaussmix.cli import main

raise SystemExit(main())
