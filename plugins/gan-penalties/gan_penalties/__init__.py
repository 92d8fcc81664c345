"""gan-penalties: the R1 and R2 gradient penalties (with StyleGAN2's lazy schedule) as a gancore plugin."""

__version__ = "0.1.0"
