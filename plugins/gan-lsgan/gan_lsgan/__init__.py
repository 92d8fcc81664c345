"""gan-lsgan: least squares GAN losses (Mao et al. 2017) and report 001's cn-lsgan as a gancore plugin."""

__version__ = "0.1.0"
