"""What every benchmark script shares: the result table it prints and the JSON it writes.

Each script ``benchmarks/NAME.py`` prints ``metric value`` rows and writes the same figures to
``benchmarks/NAME.json`` (keys sorted), which ``run_all.py`` gathers.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def result_path(script: str) -> Path:
    """The JSON file a benchmark script writes its figures to: next to it, same stem."""
    return Path(script).with_suffix(".json")


def _shown(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.3f}"


def print_table(figures: Mapping[str, Any]) -> None:
    """Print ``figures`` as a two-column table (floats to 1 or 3 decimals); a mapping value
    is printed as indented rows under its key."""
    print(f"{'metric':<36} {'value':>14}")
    for key, value in figures.items():
        if isinstance(value, Mapping):
            print(f"{key}:")
            for name, item in value.items():
                print(f"  {name:<34} {_shown(item):>14}")
        else:
            print(f"{key:<36} {_shown(value):>14}")


def write_json(path: Path, figures: Mapping[str, Any]) -> None:
    """Write ``figures`` to ``path`` as indented JSON, keys sorted."""
    path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def report(script: str, figures: Mapping[str, Any]) -> None:
    """Print the table of ``figures`` and write them to the script's JSON file."""
    print_table(figures)
    write_json(result_path(script), figures)


def machine() -> dict[str, Any]:
    """The machine the figures were measured on."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "executable": sys.executable,
    }
