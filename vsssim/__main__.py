"""``python -m vsssim``: the same as the ``vsssim`` command."""

import sys

from vsssim.cli.main import main

sys.exit(main())
