"""gan-fgan: the f-GAN losses of Nowozin, Cseke & Tomioka (2016) as a gancore plugin."""

__version__ = "0.1.0"
