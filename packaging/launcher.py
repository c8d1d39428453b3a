"""The frozen app's entry point: the same ``ecgviewer.cli:main`` as the ``ecgviewer`` console script."""

import multiprocessing
import sys

from ecgviewer.cli import main

if __name__ == "__main__":
    # index --analyze's worker processes: where they are spawned (Windows, macOS), the frozen
    # executable is started again for each, and this turns those starts into workers
    multiprocessing.freeze_support()
    sys.exit(main())
