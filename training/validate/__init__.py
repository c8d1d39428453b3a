"""Validation suites, each writing its report: metrics, explanations, lead sets, measurements beat by
beat and wave by wave, R-peaks, lead quality, the statements, out of distribution."""
