"""gan-losses: the hinge loss and the relativistic average losses (RaGAN, RaLSGAN) as a gancore plugin."""

__version__ = "0.1.0"
