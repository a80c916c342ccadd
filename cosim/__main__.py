"""``python -m cosim`` is the ``sbpca`` command."""

import sys

from cosim.cli import main

sys.exit(main())
