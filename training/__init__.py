"""Reproduces the pretraining and produces the bundled model.

Imports the model and the preprocessing from ``ecgviewer``; the app never imports this package.
"""
