"""Clinical measurements: delineation of P, QRS and T, median beats, global intervals and axes."""

# The version of the rules that turn a delineation into measurements and statements. A library's
# stored analyses are keyed by it (with the delineator's hash and the statements' criteria), so a
# change to what the measurements or statements say for a recording must raise it.
RULES = 4  # 4: QRS complexes in noise not counted (session 99)
