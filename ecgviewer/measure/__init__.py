"""Clinical measurements: delineation of P, QRS and T, median beats, global intervals and axes."""
