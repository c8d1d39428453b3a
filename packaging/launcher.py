"""The frozen app's entry point: the same ``ecgviewer.cli:main`` as the ``ecgviewer`` console script."""

import sys

from ecgviewer.cli import main

if __name__ == "__main__":
    sys.exit(main())
