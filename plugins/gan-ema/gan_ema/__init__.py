"""gan-ema: an exponential moving average of the generator, sampled in its place, as a gancore callback."""

__version__ = "0.1.0"
