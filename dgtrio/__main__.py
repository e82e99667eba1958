"""``python -m dgtrio``: the ``dgtrio`` command (see :mod:`dgtrio._cli`)."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
