"""Temporary: the statistics moved to :mod:`companion.stats` and the shared words to
:mod:`companion.vocabulary` (issue 32). This re-export goes once every chapter imports from there."""
from __future__ import annotations

from .stats.laws import *  # noqa: F401,F403
from .stats.laws import _design, _failed, _fit_saturating, _r2, _resample, _size_means  # noqa: F401
from .stats.paired import *  # noqa: F401,F403
from .stats.thresholds import *  # noqa: F401,F403
from .stats.thresholds import _groups  # noqa: F401
from .vocabulary import REGIME_NAMES, _short, law_shares_words, law_words  # noqa: F401
