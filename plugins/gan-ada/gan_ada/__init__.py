"""Adaptive discriminator augmentation for gancore: ``--augment ada --callback ada``."""
