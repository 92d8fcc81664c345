"""gan-drs: discriminator rejection sampling and two simpler samplers as a gancore plugin."""

__version__ = "0.1.0"
