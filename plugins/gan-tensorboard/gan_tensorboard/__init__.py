"""A TensorBoard logger for gancore runs, as the callback ``tensorboard``."""
