"""gancore's public API: everything a plugin needs, importable from ``gancore`` alone.

    from gancore import Loss, hookimpl, option

Plugins (the built-in one included) import from here and nowhere else in gancore, so the modules
behind these names can move without breaking anyone. The names and their modules are listed once,
in ``__init__.pyi`` (what type checkers read); ``lazy_loader`` (scientific Python's, used by
scikit-image and NetworkX) loads each on first use from that list, so that importing gancore (and
`gan --help`) does not pay for torch.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
