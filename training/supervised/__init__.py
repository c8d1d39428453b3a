"""Supervised training and the model that ships: fine-tuning and distillation, the CNN baselines,
frozen probes, the comparison grid, export with its card, the choices made on fold 9, and the
delineator."""
