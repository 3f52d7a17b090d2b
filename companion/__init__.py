"""Companion code for Wolfe et al., *How much pre-training is enough to discover a good subnetwork?*

Grouped by concern, following the data: ``data`` -> ``models`` (``two_layer``: the theorem's network;
``mlp``, ``resnet``: deep networks pruned unit by unit, on ``base``'s rescaling convention) ->
``pretrain`` (chapters 1-3's GD/SGD loop) and ``train`` (the loop that pre-trains and fine-tunes deep
networks) -> ``prune`` (``greedy``: the two-layer closed form; ``layerwise``: deep networks;
``subnetwork``: materialised small networks, their sizes, the baselines) -> ``experiments`` ->
``analysis`` -> ``display``. ``losses`` holds the squared loss, once; ``theory`` the quantities of the
bound (H_inf, lambda_0, t*(N)); ``experiments`` every chapter's experiments on one engine
(``engine``, with the run options declared once in ``RunOptions``), the store of results (``store``:
committed results read-only, new ones in the user cache, with provenance) and each chapter's
parameters declared once (``schema``); ``paths`` names every location; ``cli`` is
``python -m companion``.
"""

__version__ = "0.1.0"
