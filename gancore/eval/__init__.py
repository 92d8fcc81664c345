"""Evaluation implementations: the image protocol (a feature network per dataset, FID,
precision/recall, density/coverage, class coverage) and the Gaussian-mixture mode metrics. Datasets
choose theirs (``Dataset.evaluation()``); ``gancore.eval.evaluate`` finds and runs it.

Nothing is imported here, so that ``gan --help`` does not pay for torch.
"""
