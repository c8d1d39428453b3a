"""ecgviewer: an interactive 12-lead ECG reader (research use, not a medical device)."""

__version__ = "0.1.0"
