"""Collectors and workloads, found by module discovery: a new collector is a new file
under gcbench_core/collectors/, a new workload a new file under gcbench_core/workloads/.

A collector module exposes NAME, DESCRIPTION, OPTIONS ({name: {"default", "choices",
"help"}}), CONSTRAINTS (a gcbench_core.plan.PlanConstraints: what the plan needs and
offers; read as Entry.constraints, never as loose attributes) and attach(heap, opts).  A
workload module exposes NAME, DESCRIPTION, PARAMS (a tuple of {"name", "type", "default",
"min", "max", "choices", "help"}; type "trace" is a trace file the runs room loads and
passes as data), optionally RESULT_KEYS (extra result keys, read as Entry.result_keys) and
run(heap, params, seed), and optionally check_params(values) for what no single range
says (returns (key, message) or None; registry.check_together calls it).  Either may expose AVAILABLE = False with UNAVAILABLE_REASON.
Module attributes are read here, once, at discovery; everything else reads Entry fields.
This module also holds the one parameter/option validation (resolve, convert_value).
"""
import importlib
import math
import pkgutil
from dataclasses import dataclass, field

from gcbench_core.plan import PlanConstraints

from .errors import UsageError
from .units import MAX_DIGITS, short_number


@dataclass
class Entry:
    """A collector or workload as discovered: everything the harness reads from its
    module is here, read once; the harness never looks at the module's attributes."""
    name: str
    description: str
    module: object
    specs: dict = field(default_factory=dict)
    available: bool = True
    reason: str = ""
    constraints: PlanConstraints = None      # collectors only
    result_keys: tuple = ()                  # workloads: extra result keys (RESULT_KEYS)
    check: object = None                     # workloads: check_params(values) -> (key, message) or None
    record_refusal: str = ""                 # workloads: why `gcbench record` cannot record it (RECORD_REFUSAL)


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
        declared = vars(module)          # the module's declarations, read once here
        name = declared.get("NAME")
        if name is None:
            continue
        raw = declared.get(spec_attr, ())
        if isinstance(raw, dict):
            specs = {k: dict(v, name=k) for k, v in raw.items()}
        else:
            specs = {p["name"]: dict(p) for p in raw}
        constraints = None
        if collectors:
            constraints = declared.get("CONSTRAINTS")
            if not isinstance(constraints, PlanConstraints):
                raise TypeError(f"collector module {module.__name__} must declare CONSTRAINTS = PlanConstraints(...)")
        found[name] = Entry(name, declared.get("DESCRIPTION", ""), module, specs,
                            declared.get("AVAILABLE", True), declared.get("UNAVAILABLE_REASON", ""),
                            constraints, tuple(declared.get("RESULT_KEYS", ())),
                            declared.get("check_params"))
        found[name].record_refusal = declared.get("RECORD_REFUSAL", "")
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
            if not isinstance(value, int):
                if len(str(value)) > MAX_DIGITS:      # int() stops at 4300 digits
                    raise ValueError
                value = int(str(value).replace("_", ""))
        elif kind == "float":
            if isinstance(value, bool) or isinstance(value, str) and len(value) > 2 * MAX_DIGITS:
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
    except (TypeError, ValueError, OverflowError):
        expect = {"int": "an integer", "float": "a number", "bool": "true or false"}.get(kind, "a string")
        raise UsageError(f"{path}: expected {expect}, got {short_number(value)}") from None
    if allowed is not None and value not in allowed:
        raise UsageError(f"{path}: {short_number(value)} is not one of {', '.join(map(str, allowed))}")
    lo, hi = spec.get("min"), spec.get("max")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise UsageError(f"{path}: {short_number(value)} is out of range [{lo}, {hi}]")
    return value


_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
               dict: "a table", list: "an array"}


def describe_toml_value(value):
    kind = next((name for t, name in _TYPE_NAMES.items() if isinstance(value, t)), type(value).__name__)
    return f"{kind} ({short_number(value)})" if not isinstance(value, (dict, list)) else kind


def check_toml_type(kind, value, path):
    """A TOML value must already have the spec's type: an int parameter does not take
    "100" or 1.5, a float one takes 1 or 1.5, a bool takes true/false."""
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "table": isinstance(value, dict),
    }.get(kind, isinstance(value, str))
    if not ok:
        expect = {"int": "an integer", "float": "a number", "bool": "true or false",
                  "table": "a table ([params])"}.get(kind, "a string")
        raise UsageError(f"{path}: expected {expect}, got {describe_toml_value(value)}")


def resolve(entry, given, what, where=None, toml_types=False):
    """Defaults overlaid with `given`, each value validated; unknown keys rejected.

    The one parameter and option validation.  `where`: the key path of `given` in a
    file (errors then read "WHERE.KEY: ..."); without it errors name "WHAT KEY" (the
    command line).  `toml_types`: values must already have the spec's type."""
    given = dict(given or {})
    out = {}
    for key in given:
        if key not in entry.specs:
            known = ", ".join(entry.specs) or "none"
            if where is None:
                raise UsageError(f"unknown {what} {key!r} for {entry.name}; known: {known}")
            raise UsageError(f"{where}.{key}: unknown {what} of {entry.name}; allowed: {known}")
    for key, spec in entry.specs.items():
        path = f"{what} {key}" if where is None else f"{where}.{key}"
        if key in given:
            value = given[key]
            if toml_types:
                check_toml_type(spec.get("type", "str"), value, path)
        else:
            value = spec.get("default")
        out[key] = convert_value(spec, value, path)
    check_together(entry, out, where)
    return out


def check_together(entry, values, where=None):
    """What no single range says: a distribution's min_X <= max_X, and the workload's own
    check_params(values) (a message, or None), e.g. server's cache_keep <= small_objects.
    So a suite or a workload file is refused before it runs, not "not applicable" after."""
    def name(key):
        return f"{where}.{key}" if where is not None else f"parameter {key}"
    for key in entry.specs:
        what = key[:-5] if key.endswith("_dist") else None
        if what and f"min_{what}" in values and f"max_{what}" in values:
            lo, hi = values[f"min_{what}"], values[f"max_{what}"]
            if lo > hi:
                raise UsageError(f"{name('min_' + what)}: {lo} exceeds {name('max_' + what)} ({hi}); "
                                 f"allowed: min_{what} <= max_{what}")
    if entry.check is not None:
        problem = entry.check(values)
        if problem:
            key, message = problem
            raise UsageError(f"{name(key)}: {message}")
