"""Pruning by greedy forward selection (Ye et al. 2020) and what it is compared with: ``greedy`` (the
two-layer network's closed-form greedy, its brute-force reference and the evaluation of its
subnetworks), ``layerwise`` (layer by layer over deep networks, exact, batched and Ye et al.'s
practical variant) and ``subnetwork`` (selections materialised as small dense networks, their sizes,
and the baselines at equal widths: random and largest-norm units, training from scratch).
"""
from . import greedy, layerwise, subnetwork
from .greedy import (Selection, brute_force_greedy, evaluate_subnetwork, evaluate_subnetworks,
                     greedy_forward_selection, subnetwork_output)
from .subnetwork import magnitude_selection, random_selection

__all__ = ["Selection", "brute_force_greedy", "evaluate_subnetwork", "evaluate_subnetworks", "greedy",
           "greedy_forward_selection", "layerwise", "magnitude_selection", "random_selection",
           "subnetwork", "subnetwork_output"]
