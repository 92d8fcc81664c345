"""gan-icr: improved consistency regularization (bCR, zCR, ICR) and DiffAugment as a gancore plugin."""

__version__ = "0.1.0"
