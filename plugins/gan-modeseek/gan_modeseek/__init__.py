"""gan-modeseek: mode-seeking regularization and a Gaussian-mixture latent prior as a gancore plugin."""

__version__ = "0.1.0"
