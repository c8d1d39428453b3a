"""Data: PTB-XL and LUDB readers, the token cache and its portable pack, augmentations, noise models,
the kept run logs and the fold-10 ledger."""
