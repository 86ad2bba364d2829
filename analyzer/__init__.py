"""jaxlint.analyzer: lower a call at several sizes n, measure the StableHLO program, fit its growth.

Stages, one module each, with plain dataclasses between them:
``lower`` -> ``walk`` -> ``figures`` -> ``attribute`` (one size, bundled by ``measure``)
-> ``fit`` -> ``verdict`` -> ``report`` (across sizes).
"""

from .measure import Measurement, measure, measure_call

__all__ = ["Measurement", "measure", "measure_call"]
