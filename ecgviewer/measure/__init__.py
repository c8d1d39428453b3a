"""Clinical measurements: delineation of P, QRS and T, median beats, global intervals and axes."""

# The version of the rules that turn a delineation into measurements and statements. A library's
# stored analyses are keyed by it (with the delineator's hash and the statements' criteria), so a
# change to what the measurements or statements say for a recording must raise it.
# 4: QRS complexes in noise not counted (session 99); 5: no RR across a gap in the beats, premature
# against the minute around a beat (session 160)
RULES = 5
