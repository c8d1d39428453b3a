"""The bundled encoder: preprocessing contract, model, weights and model cards (torch-based;
never imported at start-up)."""
