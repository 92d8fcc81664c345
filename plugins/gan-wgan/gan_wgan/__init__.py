"""gan-wgan: WGAN, WGAN-GP, spectral normalization and Lipschitz monitors as a gancore plugin."""

__version__ = "0.1.0"
