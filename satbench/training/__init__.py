"""Training: the single-model trainer, the batched trainer, layer formats and result rows."""
