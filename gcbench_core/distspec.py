"""The Python side of gcbench_core/dist.pxd: distribution names and workload parameters.

Every workload that draws object sizes or pointer-slot counts takes the same parameter
shapes: `<what>_dist` (fixed | uniform | pareto) with `min_<what>` and `max_<what>`.
"""

DIST_KINDS = {"fixed": 0, "uniform": 1, "pareto": 2}   # DIST_FIXED, DIST_UNIFORM, DIST_PARETO

DIST_HELP = ("fixed: always (min+max)//2; uniform: every value in [min, max] equally likely; "
             "pareto: bounded Pareto on [min, max], shape 1.16 (80/20): mostly small, a few near max")


def dist_params(what, unit, lo, hi, dist="uniform", limit=1 << 20, per="object"):
    """The three parameters that describe one drawn quantity (e.g. payload bytes)."""
    return (
        {"name": f"{what}_dist", "type": "str", "default": dist, "choices": tuple(DIST_KINDS),
         "help": f"distribution of {unit} per {per} ({DIST_HELP})"},
        {"name": f"min_{what}", "type": "int", "default": lo, "min": 0, "max": limit,
         "help": f"smallest {unit} per {per}"},
        {"name": f"max_{what}", "type": "int", "default": hi, "min": 0, "max": limit,
         "help": f"largest {unit} per {per}"},
    )


def dist_args(params, what):
    """(kind code, lo, hi) for dist_init, checking lo <= hi (ValueError -> exit 2)."""
    lo, hi = params[f"min_{what}"], params[f"max_{what}"]
    if lo > hi:
        raise ValueError(f"min_{what} ({lo}) must not exceed max_{what} ({hi})")
    return (DIST_KINDS[params[f"{what}_dist"]], lo, hi)
