"""Self-supervised pretraining: the four objectives behind one interface (``methods``), the pretraining
run, the scaling study and the pretraining report."""
