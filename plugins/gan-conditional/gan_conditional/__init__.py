"""gan-conditional: a class-conditional GAN (the fixed MLP generator G(z, y) and a projection critic)."""

__version__ = "0.1.0"
