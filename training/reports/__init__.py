"""The generated reports (``README.md`` lists which command writes each) and the writers of the summary
ones: RESULTS.md and its ranking of the pretraining methods."""
