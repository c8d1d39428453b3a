"""Reproduces the pretraining and produces the bundled model; imports the model and the preprocessing from ``ecgviewer``."""
