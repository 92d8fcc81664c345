"""Evaluation: a feature network per dataset (shipped as safetensors), FID, precision/recall,
density/coverage and class coverage. ``gancore.eval.evaluate.evaluate`` is the entry point.

Nothing is imported here, so that ``gan --help`` does not pay for torch.
"""
