"""The ECG library: a SQLite index of every recording under a folder (``ecgviewer index``) and
queries over it (``ecgviewer find``). Qt-free: the window and the CLI share it."""
