"""The frozen app's entry point: the same ``ecgviewer.cli:entry`` as the ``ecgviewer`` console script."""

import multiprocessing
import sys

from ecgviewer.cli import entry

if __name__ == "__main__":
    # worker processes (index --analyze's; the beat list's, ``measure.workers``): where they are
    # spawned, the frozen executable is started again for each, and this turns those starts into workers
    multiprocessing.freeze_support()
    sys.exit(entry())
