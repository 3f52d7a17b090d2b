"""Companion code for Wolfe et al., *How much pre-training is enough to discover a good subnetwork?*

One module per idea, following the data:
``data`` -> ``model`` -> ``pretrain`` -> ``prune`` -> ``sweep`` -> ``analysis``; ``theory`` holds the
quantities of the bound (H_inf, lambda_0, t*(N)); ``cache`` stores every expensive result on disk
under a hash of its configuration, with provenance; ``paths`` names every location.
"""

__version__ = "0.1.0"
