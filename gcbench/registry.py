"""Collectors and workloads, found by module discovery: a new collector is a new file
under gcbench_core/collectors/, a new workload a new file under gcbench_core/workloads/.

A collector module exposes NAME, DESCRIPTION, OPTIONS ({name: {"default", "choices",
"help"}}), CONSTRAINTS (a gcbench_core.plan.PlanConstraints: what the plan needs and
offers; read as Entry.constraints, never as loose attributes) and attach(heap, opts).  A
workload module exposes NAME, DESCRIPTION, PARAMS (a tuple of {"name", "type", "default",
"min", "max", "choices", "help"}) and run(heap, params, seed).  Either may expose
AVAILABLE = False with UNAVAILABLE_REASON.
"""
import importlib
import math
import pkgutil
from dataclasses import dataclass, field

from gcbench_core.plan import PlanConstraints

from .errors import UsageError


@dataclass
class Entry:
    name: str
    description: str
    module: object
    specs: dict = field(default_factory=dict)
    available: bool = True
    reason: str = ""
    constraints: PlanConstraints = None      # collectors only


def _require_kernels():
    """The compiled kernels must be importable; say how to get them when they are not
    (typically `python -m gcbench` inside the checkout, which imports the sources)."""
    try:
        importlib.import_module("gcbench_core.heap")
    except ImportError as exc:
        import gcbench_core
        raise UsageError(f"gcbench's compiled kernels are not importable from {gcbench_core.__path__[0]} "
                         f"({exc}): install with `pip install .` and run `gcbench` outside the source "
                         f"folder, or build in place with `python setup.py build_ext --inplace`") from None


def _discover(package_name, spec_attr, collectors):
    _require_kernels()
    package = importlib.import_module(package_name)
    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package_name}.{info.name}")
        name = getattr(module, "NAME", None)
        if name is None:
            continue
        raw = getattr(module, spec_attr, ())
        if isinstance(raw, dict):
            specs = {k: dict(v, name=k) for k, v in raw.items()}
        else:
            specs = {p["name"]: dict(p) for p in raw}
        constraints = None
        if collectors:
            constraints = getattr(module, "CONSTRAINTS", None)
            if not isinstance(constraints, PlanConstraints):
                raise TypeError(f"collector module {module.__name__} must declare CONSTRAINTS = PlanConstraints(...)")
        found[name] = Entry(name, getattr(module, "DESCRIPTION", ""), module, specs,
                            getattr(module, "AVAILABLE", True), getattr(module, "UNAVAILABLE_REASON", ""),
                            constraints)
    return dict(sorted(found.items()))


_collectors = None
_workloads = None


def collectors():
    global _collectors
    if _collectors is None:
        _collectors = _discover("gcbench_core.collectors", "OPTIONS", True)
    return _collectors


def workloads():
    global _workloads
    if _workloads is None:
        _workloads = _discover("gcbench_core.workloads", "PARAMS", False)
    return _workloads


def exact_collectors():
    """Collectors after whose full collection exactly the reachable objects remain (not
    nogc, malloc or the conservative boehm: constraints.reclaims_exactly)."""
    return {name: entry for name, entry in collectors().items()
            if entry.available and entry.constraints.reclaims_exactly}


def get_collector(name):
    table = collectors()
    if name not in table:
        raise UsageError(f"unknown collector {name!r}; known: {', '.join(table)}")
    entry = table[name]
    if not entry.available:
        raise UsageError(f"collector {name!r} is unavailable: {entry.reason}")
    return entry


def get_workload(name):
    table = workloads()
    if name not in table:
        raise UsageError(f"unknown workload {name!r}; known: {', '.join(table)}")
    return table[name]


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def convert_value(spec, value, path):
    """Convert and range-check one parameter or option value against its spec."""
    kind = spec.get("type", "str")
    allowed = spec.get("choices")
    try:
        if kind == "int":
            if isinstance(value, bool) or isinstance(value, float):
                raise ValueError
            value = int(str(value).replace("_", "")) if not isinstance(value, int) else value
        elif kind == "float":
            if isinstance(value, bool):
                raise ValueError
            value = float(value)
            if not math.isfinite(value):
                raise ValueError
        elif kind == "bool":
            if not isinstance(value, bool):
                s = str(value).strip().lower()
                if s in _TRUE:
                    value = True
                elif s in _FALSE:
                    value = False
                else:
                    raise ValueError
        else:
            value = str(value)
    except (TypeError, ValueError):
        expect = {"int": "an integer", "float": "a number", "bool": "true or false"}.get(kind, "a string")
        raise UsageError(f"{path}: expected {expect}, got {value!r}") from None
    if allowed is not None and value not in allowed:
        raise UsageError(f"{path}: {value!r} is not one of {', '.join(map(str, allowed))}")
    lo, hi = spec.get("min"), spec.get("max")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise UsageError(f"{path}: {value!r} is out of range [{lo}, {hi}]")
    return value


def resolve(entry, given, what):
    """Defaults overlaid with `given`, each value validated; unknown keys rejected."""
    given = dict(given or {})
    out = {}
    for key in given:
        if key not in entry.specs:
            known = ", ".join(entry.specs) or "none"
            raise UsageError(f"unknown {what} {key!r} for {entry.name}; known: {known}")
    for key, spec in entry.specs.items():
        value = given[key] if key in given else spec.get("default")
        out[key] = convert_value(spec, value, f"{what} {key}")
    return out
