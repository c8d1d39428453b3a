"""ecgviewer: an interactive 12-lead ECG reader (research use, not a medical device)."""

__version__ = "0.1.0"

# What every AI output and printed page says of itself: written once, here.
NOTICE_INLINE = "research use, not a medical device"
NOTICE = f"{NOTICE_INLINE.capitalize()}."
