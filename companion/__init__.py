"""Companion code for Wolfe et al., *How much pre-training is enough to discover a good subnetwork?*

One module per idea, following the data:
``data`` -> ``model`` -> ``pretrain`` -> ``prune`` -> ``experiments`` -> ``analysis`` -> ``display``.
``theory`` holds the quantities of the bound (H_inf, lambda_0, t*(N)); ``experiments`` holds every
chapter's experiments on one engine (``engine``), the store of results (``store``: committed results
read-only, new ones in the user cache, with provenance) and each chapter's parameters declared once
(``schema``); ``paths`` names every location; ``cli`` is ``python -m companion``.
"""

__version__ = "0.1.0"
