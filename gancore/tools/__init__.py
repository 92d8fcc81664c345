"""Tools over finished runs: sampling, plots, reports, sweeps."""
