"""Workload files: a workload and its parameters in TOML, validated before anything runs.

    # lru.toml
    workload = "lru-cache"          # required: a name from `gcbench list`
    seed = 7                        # optional (default: --seed, else 1)
    description = "hot keys"        # optional, free text
    [params]                        # optional: any parameter of that workload
    capacity = 50000
    zipf_s = 1.2

`gcbench run -c marksweep --workload-file lru.toml`.  Every problem is one line naming
the file, the key path (e.g. `params.capacity`) and what is allowed; exit code 2.
Values must have the parameter's TOML type (an integer parameter does not take "100"
or 1.5; a float parameter takes 1 or 1.5; a bool takes true/false).  The parameters are
validated by registry.resolve and the seed by run.config.check_seed, as everywhere; this
module adds only the file's own keys and the order of a distribution's bounds.
"""
import tomllib

from .. import registry
from ..errors import UsageError
from ..units import require_regular_file
from .config import check_seed

TOP_LEVEL = {"workload": "str", "seed": "int", "description": "str", "params": "table"}


def load(path):
    """Parse and validate `path`; returns {"workload", "params", "seed" (or None)}."""
    require_regular_file(path, "workload file")
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise UsageError(f"cannot read workload file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: invalid TOML: not UTF-8 text") from None
    except RecursionError:
        raise UsageError(f"{path}: invalid TOML: nested too deeply") from None
    except ValueError as exc:
        # tomllib's int() of a number over 4300 digits
        raise UsageError(f"{path}: invalid TOML: {' '.join(str(exc).split())[:120]}") from None
    except MemoryError:
        raise UsageError(f"{path}: out of memory reading the workload file") from None
    try:
        return validate(data)
    except UsageError as exc:
        raise UsageError(f"{path}: {exc}") from None


def validate(data):
    for key, value in data.items():
        if key not in TOP_LEVEL:
            raise UsageError(f"{key}: unknown key; allowed: {', '.join(TOP_LEVEL)}")
        registry.check_toml_type(TOP_LEVEL[key], value, key)
    if "workload" not in data:
        raise UsageError("workload: missing; name one of: " + ", ".join(registry.workloads()))
    name = data["workload"]
    table = registry.workloads()
    if name not in table:
        raise UsageError(f"workload: {name!r} is not a workload; known: {', '.join(table)}")
    entry = table[name]
    seed = data.get("seed")
    if seed is not None:
        try:
            check_seed(seed)
        except UsageError as exc:
            raise UsageError(f"seed: {exc}") from None
    resolved = registry.resolve(entry, data.get("params", {}), "parameter", where="params", toml_types=True)
    # (a distribution's bounds and the workload's own cross-checks: registry.check_together)
    return {"workload": name, "params": resolved, "seed": seed}
