"""gan-topk: top-k generator updates (Sinha et al. 2020) as a gancore sample weighting."""

__version__ = "0.1.0"
