from ecgviewer.cli import entry

if __name__ == "__main__":  # not when a worker process imports it again (``measure.workers``)
    raise SystemExit(entry())
