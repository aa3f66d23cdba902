"""Shared plumbing for the embedding course notebooks.

The teaching code lives in the notebooks; this package holds what every notebook needs and nobody
should have to read twice: run profiles, model and data resolution, data mapping, evaluation,
the results store and plots. Names are imported lazily so `import helpers` stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "setup": "helpers.session",
    "current_profile": "helpers.session",
    "SCALES": "helpers.profiles",
    "Profile": "helpers.profiles",
    "CourseError": "helpers.profiles",
    "out": "helpers.profiles",
    "output_dir": "helpers.profiles",
    "load_data": "helpers.data",
    "load_sts": "helpers.data",
    "subset": "helpers.data",
    "require_columns": "helpers.data",
    "resolve_model": "helpers.models",
    "model_location": "helpers.models",
    "load_sentence_model": "helpers.models",
    "load_cross_encoder": "helpers.models",
    "build_encoder": "helpers.models",
    "sts_evaluator": "helpers.evaluation",
    "evaluate_sts": "helpers.evaluation",
    "record": "helpers.results",
    "load_results": "helpers.results",
    "plot_results": "helpers.results",
    "LossHistory": "helpers.training",
    "measure": "helpers.training",
    "encode_speed": "helpers.training",
    "runtime_args": "helpers.training",
    "precision_args": "helpers.training",
    "seed_everything": "helpers.training",
    "device": "helpers.models",
    "device_name": "helpers.models",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if importlib.util.find_spec(f"helpers.{name}") is not None:  # a submodule: helpers.mapping, ...
        return importlib.import_module(f"helpers.{name}")
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")
