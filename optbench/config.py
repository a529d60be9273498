"""YAML -> validated, frozen config models. The only place that reads or validates a config.

Every problem surfaces as one :class:`ConfigError` whose message names the file, the line, the key
path, the rule broken and the value received, and suggests the closest valid name for a typo::

    paraboloid.yaml:14: optimizers[1].betta: unknown key (did you mean 'betas'?)

The models are generated from the registries in :mod:`optbench.functions` and
:mod:`optbench.optimizers`, so a constraint is written once, next to the update rule.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    WithJsonSchema,
    create_model,
    model_validator,
)

from .functions import FUNCTIONS
from .optimizers import OPTIMIZERS, SCHEDULE_KEY, Hyperparameter
from .schedules import SCHEDULES

#: The floating-point precision of a run's arithmetic (``precision:``).
Precision = Literal["float64", "float32"]
PRECISION_HELP = (
    "arithmetic of the points and the optimizer's state and update: float64, or float32 as torch "
    "computes with float32 parameters (each scalar rounded to float32 where it meets a tensor); "
    "gradients are computed in float64 and rounded, values and gaps are measured in float64")


class ConfigError(ValueError):
    """A config that cannot be run; the message is one line, ready for the user."""


# ---------------------------------------------------------------------------------------------
# Sweeps: a hyperparameter is a value or a list / linspace / logspace of values.


class Sweep(BaseModel):
    """The values one hyperparameter takes, and how they were spaced (for plot axes)."""

    model_config = ConfigDict(frozen=True)
    values: tuple[Any, ...]
    scale: Literal["single", "list", "linear", "log"]

    @property
    def is_sweep(self) -> bool:
        return len(self.values) > 1


_SWEEP_FORMS = "a number, a list of numbers, {linspace: [start, stop, num]} or {logspace: [start, stop, num]}"


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _parse_float_sweep(raw, hyper: Hyperparameter, label: str) -> Sweep:
    if isinstance(raw, Sweep):
        return raw
    if _is_number(raw):
        sweep = Sweep(values=(float(raw),), scale="single")
    elif isinstance(raw, list):
        if not raw:
            raise ValueError(f"an empty list gives no values; must be {_SWEEP_FORMS}, got []")
        if not all(_is_number(v) for v in raw):
            raise ValueError(f"must be {_SWEEP_FORMS}, got {raw!r}")
        sweep = Sweep(values=tuple(float(v) for v in raw), scale="list" if len(raw) > 1 else "single")
    elif isinstance(raw, dict) and len(raw) == 1 and next(iter(raw)) in ("linspace", "logspace"):
        kind, spec = next(iter(raw.items()))
        if not (
            isinstance(spec, list) and len(spec) == 3 and all(_is_number(v) for v in spec)
            and isinstance(spec[2], int) and spec[2] >= 1
        ):
            raise ValueError(f"{kind} takes [start, stop, num] with a whole num >= 1, got {spec!r}")
        start, stop, num = float(spec[0]), float(spec[1]), spec[2]
        if kind == "logspace":
            if start <= 0 or stop <= 0:
                raise ValueError(
                    f"logspace takes positive start and stop values (not exponents), got {spec!r}"
                )
            values = np.geomspace(start, stop, num)
        else:
            values = np.linspace(start, stop, num)
        sweep = Sweep(values=tuple(float(v) for v in values),
                      scale=("linear" if kind == "linspace" else "log") if num > 1 else "single")
    elif isinstance(raw, dict) and len(raw) == 1:
        kind = next(iter(raw))
        raise ValueError(f"unknown spacing {kind!r}{_closest(kind, ('linspace', 'logspace'))}; "
                         f"must be {_SWEEP_FORMS}, got {raw!r}")
    elif isinstance(raw, dict):
        raise ValueError(f"give one of linspace or logspace, got {raw!r}")
    else:
        raise ValueError(f"must be {_SWEEP_FORMS}, got {raw!r}")
    hyper.check(sweep.values, label)
    return sweep


def _float_field(hyper: Hyperparameter, label: str):
    def parse(raw):
        return _parse_float_sweep(raw, hyper, label)

    schema = {
        "description": f"{hyper.doc}; in {hyper.interval}; default {hyper.default}",
        "anyOf": [
            {"type": "number"},
            {"type": "array", "items": {"type": "number"}, "minItems": 1},
            {"type": "object", "properties": {"linspace": {"type": "array"}}, "required": ["linspace"]},
            {"type": "object", "properties": {"logspace": {"type": "array"}}, "required": ["logspace"]},
        ],
    }
    return Annotated[Sweep, BeforeValidator(parse), WithJsonSchema(schema)]


def _pair_field(hyper: Hyperparameter):
    def parse(raw):
        if isinstance(raw, tuple) and all(isinstance(s, Sweep) for s in raw):
            return raw
        if not isinstance(raw, list) or len(raw) != 2:
            raise ValueError(f"must be a pair [{hyper.name}1, {hyper.name}2], each {_SWEEP_FORMS}, got {raw!r}")
        return tuple(
            _parse_float_sweep(v, hyper, f"{hyper.name}[{i}]") for i, v in enumerate(raw)
        )

    schema = {"description": f"{hyper.doc}; each in {hyper.interval}; default {list(hyper.default)}",
              "type": "array", "minItems": 2, "maxItems": 2}
    return Annotated[tuple[Sweep, Sweep], BeforeValidator(parse), WithJsonSchema(schema)]


def _discrete_field(hyper: Hyperparameter):
    allowed = (True, False) if hyper.kind == "bool" else hyper.choices
    what = "true or false" if hyper.kind == "bool" else " or ".join(repr(c) for c in allowed)

    def ok(v):
        return (isinstance(v, bool) if hyper.kind == "bool" else isinstance(v, str)) and v in allowed

    def parse(raw):
        if isinstance(raw, Sweep):
            return raw
        values = raw if isinstance(raw, list) and raw else [raw]
        for v in values:
            if not ok(v):
                raise ValueError(f"must be {what} (or a list of them), got {v!r}")
        return Sweep(values=tuple(values), scale="list" if len(values) > 1 else "single")

    base = {"type": "boolean"} if hyper.kind == "bool" else {"enum": list(hyper.choices)}
    schema = {"description": f"{hyper.doc}; default {hyper.default!r}",
              "anyOf": [base, {"type": "array", "items": base}]}
    return Annotated[Sweep, BeforeValidator(parse), WithJsonSchema(schema)]


# ---------------------------------------------------------------------------------------------
# Models


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RandomStart(_Frozen):
    """``random`` points drawn uniformly in ``box`` (default: the function's plot box)."""

    random: int = Field(ge=1, strict=True, description="number of start points")
    box: list[tuple[float, float]] | None = Field(
        default=None, description="[low, high] per coordinate; default the function's box"
    )
    seed: int | None = Field(default=None, strict=True,
                                description="seed; default derived from the run's seed")


_START_FORMS = "a point [x1, x2, ...], a list of points, or {random: N, box: [[low, high], ...], seed: S}"


def _start_form(raw) -> str | None:
    """Which form of ``start`` the YAML uses (the tags are not keys, so they never reach a path)."""
    if isinstance(raw, (dict, RandomStart)):
        return "<random>"
    if isinstance(raw, (list, tuple)):
        return "<points>" if raw and isinstance(raw[0], (list, tuple)) else "<point>"
    return None


StartSpec = Annotated[
    Annotated[list[float], Field(min_length=1), Tag("<point>")] | Annotated[list[Annotated[list[float], Field(min_length=1)]], Field(min_length=1), Tag("<points>")] | Annotated[RandomStart, Tag("<random>")],
    Discriminator(_start_form, custom_error_type="start_form",
                  custom_error_message=f"must be {_START_FORMS}"),
]
_START_TAGS = ("<point>", "<points>", "<random>")


class FunctionEntry(_Frozen):
    """One function of the benchmark, with its parameters, start points and gradient noise."""

    label: str
    function: str
    params: dict[str, Any]
    start: StartSpec
    noise: float = 0.0  # sigma of the Gaussian noise added to each gradient component


class OptimizerEntry(_Frozen):
    """One optimizer of the benchmark; each hyperparameter a :class:`Sweep`."""

    label: str
    optimizer: str
    functions: tuple[str, ...] | None
    hyperparameters: dict[str, Any]  # name -> Sweep, or (Sweep, Sweep) for pairs

    def swept(self) -> list[str]:
        """Names of the hyperparameters that take more than one value."""
        out = []
        for name, value in self.hyperparameters.items():
            if isinstance(value, tuple):
                out += [f"{name}[{i}]" for i, s in enumerate(value) if s.is_sweep]
            elif value.is_sweep:
                out.append(name)
        return out


class Target(_Frozen):
    """When a trial counts as converged: ``f - f* <= gap`` or ``||x - x*|| <= distance``."""

    gap: float | None = Field(default=None, gt=0, description="f - f* threshold (default 1e-6)")
    distance: float | None = Field(default=None, gt=0, description="||x - x*|| threshold")

    @model_validator(mode="after")
    def _one_criterion(self):
        if self.gap is not None and self.distance is not None:
            raise ValueError("give either gap or distance, not both")
        return self

    @property
    def kind(self) -> str:
        return "distance" if self.distance is not None else "gap"

    @property
    def value(self) -> float:
        return self.distance if self.distance is not None else (self.gap or 1e-6)


class Divergence(_Frozen):
    """When a trial counts as diverged, besides a non-finite value: its gap ``f - f*`` exceeds
    ``gap`` (absolute) or ``factor`` times its starting gap, or times the target gap if the
    start is closer than that (default factor 1e6)."""

    gap: float | None = Field(default=None, gt=0, description="absolute bound on f - f*")
    factor: float | None = Field(default=None, gt=1, description="bound relative to the start's gap")

    @model_validator(mode="after")
    def _one_bound(self):
        if self.gap is not None and self.factor is not None:
            raise ValueError("give either gap or factor, not both")
        return self

    @property
    def kind(self) -> str:
        return "gap" if self.gap is not None else "factor"

    @property
    def value(self) -> float:
        return self.gap if self.gap is not None else (self.factor or 1e6)


#: A panel draws at most this many paths (a sweep is summarised by other plots).
MAX_PANEL_PATHS = 12


class PanelLine(_Frozen):
    """The paths of one optimizer entry in a panel: all its settings, or those ``setting`` picks."""

    optimizer: str = Field(description="label of an optimizer entry")
    setting: dict[str, Any] = Field(
        default_factory=dict,
        description="hyperparameter values that pick settings of the entry, e.g. {lr: 0.4}, "
                    "{lr: [0.4, 0.51]} or {betas[0]: 0.1}; default every setting of the entry",
    )
    reference: bool = Field(default=False, description="draw in grey, as the path to compare with")


class Panel(_Frozen):
    """A plot of paths over a function's contour lines (as the book's figures 8.1-8.6)."""

    title: str = Field(description="title of the plot")
    function: str = Field(description="label of a function entry")
    show: tuple[PanelLine, ...] = Field(min_length=1, description="the optimizer entries to draw")


def setting_matches(hyperparameters: dict, setting: dict) -> bool:
    """Whether a point of a sweep (name -> value, pairs as 2-sequences) has the ``setting``.

    A key is a hyperparameter name or one component of a pair (``betas[0]``); a value is one
    value, or a list of values any of which matches (a pair's value is the pair itself).
    Floats match to 1e-9 relative, since linspace values are not round decimals.
    """
    for key, wanted in setting.items():
        base, _, index = key.partition("[")
        if base not in hyperparameters:
            return False
        value = hyperparameters[base]
        if index:
            value = value[int(index[:-1])]
        if isinstance(value, (list, tuple)):
            if not isinstance(wanted, list) or not wanted:
                return False
            options = [wanted] if wanted and isinstance(wanted[0], (int, float)) else list(wanted)
            if not any(len(o) == len(value) and all(_same(a, b) for a, b in zip(value, o))
                       for o in options):
                return False
        elif not any(_same(value, o) for o in (wanted if isinstance(wanted, list) else [wanted])):
            return False
    return True


def _same(value, wanted) -> bool:
    if isinstance(value, (bool, str)) or isinstance(wanted, (bool, str)):
        return type(value) is type(wanted) and value == wanted
    try:
        return bool(np.isclose(float(value), float(wanted), rtol=1e-9, atol=0.0))
    except (TypeError, ValueError):
        return False


class Config(_Frozen):
    """A validated benchmark: what to run, and how to judge each trial."""

    name: str
    description: str = ""
    seed: int = 0
    steps: int = Field(default=1000, ge=1, le=2**31 - 1, description="step budget of every trial")
    precision: Precision = "float64"
    target: Target = Target()
    divergence: Divergence = Divergence()
    record: int = Field(default=4, ge=0, description="trajectories recorded per group")
    functions: tuple[FunctionEntry, ...]
    optimizers: tuple[OptimizerEntry, ...]
    panels: tuple[Panel, ...] = ()

    def canonical(self) -> dict:
        """The config as plain JSON data, sweeps expanded (what the hash is taken of).

        A function entry without gradient noise has no ``noise`` key, so configs that do not use
        noise keep the hash they had before the option existed.
        """
        data = json.loads(self.model_dump_json())
        for entry in data["functions"]:
            if not entry.get("noise"):
                entry.pop("noise", None)
        if data.get("precision") == "float64":
            data.pop("precision")  # the default: configs keep the hash they had before it
        return data

    def hash(self) -> str:
        """SHA-256 of the canonical config, ignoring the name, description and panels (which
        change how results are drawn, not the results)."""
        data = self.canonical()
        data.pop("name", None)
        data.pop("description", None)
        data.pop("panels", None)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


# Raw models (the YAML's shape), generated from the registries.


def _function_model(name: str):
    spec = FUNCTIONS[name]
    fields: dict[str, Any] = {
        "function": (Literal[name], ...),
        "label": (str | None, None),
        "start": (StartSpec, Field(..., description="a point, a list of points, or {random: N, box, seed}")),
        "noise": (float | None, Field(None, ge=0, allow_inf_nan=False, description=(
            "sigma of the seeded Gaussian noise N(0, sigma^2) added to each gradient component"))),
    }
    for pname, default in spec.parameters().items():
        required = default is inspect.Parameter.empty
        fields[pname] = (Any, ... if required else None)
    model = create_model(f"Function_{name}", __base__=_Frozen, __doc__=spec.summary, **fields)
    return model


def _schedule_model(name: str):
    spec = SCHEDULES[name]
    fields: dict[str, Any] = {"name": (Literal[name], ...)}
    for hname, hyper in spec.hyperparameters.items():
        required = hyper.default is inspect.Parameter.empty
        fields[hname] = (_float_field(hyper, hname), ...) if required else (
            _float_field(hyper, hname) | None, None)
    return create_model(f"Schedule_{name}", __base__=_Frozen,
                        __doc__=f"{spec.summary} (torch's {spec.torch_name})", **fields)


def _schedule_field():
    models = tuple(_schedule_model(n) for n in SCHEDULES)
    description = ("learning-rate schedule, as torch.optim.lr_scheduler's: "
                   + ", ".join(f"{n} ({s.torch_name})" for n, s in SCHEDULES.items()))
    return Annotated[Union[models], Field(discriminator="name", description=description)]  # noqa: UP007


def _optimizer_model(name: str):
    spec = OPTIMIZERS[name]
    fields: dict[str, Any] = {
        "optimizer": (Literal[name], ...),
        "label": (str | None, None),
        "functions": (list[str] | None, Field(None, description="labels of the functions to run on; default all")),
    }
    for hname, hyper in spec.hyperparameters.items():
        if hyper.kind == "float":
            typ = _float_field(hyper, hname)
        elif hyper.kind == "pair":
            typ = _pair_field(hyper)
        else:
            typ = _discrete_field(hyper)
        fields[hname] = (typ | None, None)
    if spec.schedulable:
        fields[SCHEDULE_KEY] = (_schedule_field() | None, None)
    return create_model(f"Optimizer_{name}", __base__=_Frozen, __doc__=spec.summary, **fields)


def _raw_config_model():
    function_models = tuple(_function_model(n) for n in FUNCTIONS)
    optimizer_models = tuple(_optimizer_model(n) for n in OPTIMIZERS)
    FunctionRaw = Annotated[Union[function_models], Field(discriminator="function")]  # noqa: UP007
    OptimizerRaw = Annotated[Union[optimizer_models], Field(discriminator="optimizer")]  # noqa: UP007
    return create_model(
        "OptbenchConfig",
        __base__=_Frozen,
        name=(str | None, Field(None, description="name of the benchmark; default the file's stem")),
        description=(str, ""),
        seed=(int, Field(0, strict=True, description="seed of every random choice; --seed overrides it")),
        steps=(int, Field(1000, ge=1, le=2**31 - 1, strict=True,
                          description="step budget of every trial")),
        precision=(Precision, Field("float64", description=PRECISION_HELP)),
        target=(Target, Target()),
        divergence=(Divergence, Divergence()),
        record=(int, Field(4, ge=0, strict=True,
                           description="trajectories recorded per group (its first start points)")),
        functions=(list[FunctionRaw], Field(..., min_length=1)),
        optimizers=(list[OptimizerRaw], Field(..., min_length=1)),
        panels=(list[Panel], Field(default_factory=list,
                                   description="plots of paths over contour lines; default one per "
                                               "function with each optimizer's best setting")),
    )


_RAW_MODEL = None
_RAW_MODEL_KEY = None


def raw_model():
    """The pydantic model of the YAML file; its JSON Schema is ``optbench schema``.

    Built once, and again when a config has registered a user-defined function or optimizer.
    """
    global _RAW_MODEL, _RAW_MODEL_KEY
    key = (tuple(FUNCTIONS), tuple(OPTIMIZERS))
    if _RAW_MODEL is None or key != _RAW_MODEL_KEY:
        _RAW_MODEL, _RAW_MODEL_KEY = _raw_config_model(), key
    return _RAW_MODEL


def json_schema() -> dict:
    """JSON Schema of the config file, for editors."""
    return raw_model().model_json_schema()


# ---------------------------------------------------------------------------------------------
# YAML with line numbers


class _LineMap:
    """Key path -> line number, from the composed YAML node tree."""

    def __init__(self, root):
        self.lines: dict[tuple, int] = {}
        self.duplicates: list[tuple[tuple, int, int]] = []
        if root is not None:
            self._walk(root, ())

    def _walk(self, node, path):
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = key_node.value
                line = key_node.start_mark.line + 1
                if key in seen:
                    self.duplicates.append((path + (key,), line, seen[key]))
                seen.setdefault(key, line)
                self.lines[path + (key,)] = key_node.start_mark.line + 1
                self._walk(value_node, path + (key,))
                self.lines[path + (key,)] = key_node.start_mark.line + 1
                if key_node.tag != "tag:yaml.org,2002:str":  # 1: or true: reach pydantic as 1, True
                    value = yaml.safe_load(key_node.value) if key_node.style is None else key
                    if isinstance(value, (int, float, bool)):
                        self.lines.setdefault(path + (value,), key_node.start_mark.line + 1)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, path + (i,))

    def line(self, path: tuple) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


def format_path(path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _where(source: str, lines: _LineMap, path: tuple) -> str:
    line = lines.line(tuple(path))
    loc = f"{source}:{line}" if line else source
    return f"{loc}: {format_path(path)}" if path else loc


def _closest(word, options) -> str:
    match = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


#: pydantic's error types, in the words a config's author uses ({...} from the error's context).
_RULES = {
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "string_type": "must be text",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a mapping (key: value lines)",
    "model_type": "must be a mapping (key: value lines)",
    "model_attributes_type": "must be a mapping (key: value lines)",
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "too_short": "must have at least {min_length} entr{plural_min}",
    "too_long": "must have at most {max_length} entr{plural_max}",
}


def _rule(err: dict) -> str:
    """The rule an error breaks, without pydantic's wording where a plainer one exists."""
    template = _RULES.get(err["type"])
    if template is None:
        msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if not msg:
            return err["type"]
        # Lower a sentence's capital ("Input should be"), not a parameter's name ("T_max must").
        return msg[0].lower() + msg[1:] if msg[1:2].islower() else msg
    ctx = {k: format_value(v) if isinstance(v, float) else v for k, v in (err.get("ctx") or {}).items()}
    ctx["plural_min"] = "y" if ctx.get("min_length") == 1 else "ies"
    ctx["plural_max"] = "y" if ctx.get("max_length") == 1 else "ies"
    return template.format(**ctx)


def _clean_path(loc, raw_data, kind: str) -> tuple:
    """The key path in the YAML: drop the union tags pydantic puts in ``loc``
    (``optimizers.1.adam.lr`` -> ``optimizers[1].lr``), which are never keys of the data."""
    clean = []
    node = raw_data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        is_key = isinstance(node, dict) and part in node
        is_index = isinstance(node, list) and isinstance(part, int) and part < len(node)
        tag = not (is_key or is_index) and isinstance(part, str)
        if not last and i == 2 and isinstance(node, dict) and part in (
                node.get("function"), node.get("optimizer")):
            continue  # the tag of an entry whose name is also one of its keys (expression)
        if tag and (not last or kind != "missing" or part in _START_TAGS):
            continue  # a tag: paraboloid, adam, <point>, list[float], ...
        clean.append(part)
        node = node[part] if (is_key or is_index) else None
    return tuple(clean)


def _error_message(err: dict, raw_data, source: str, lines: _LineMap) -> str:
    """One line for the first pydantic error, naming file:line, key path, rule and value."""
    kind = err["type"]
    path = _clean_path(err["loc"], raw_data, kind)
    where = _where(source, lines, path)
    parent = _lookup(raw_data, path[:-1])

    if kind == "extra_forbidden":
        if (path[-1] == SCHEDULE_KEY and isinstance(parent, dict)
                and parent.get("optimizer") in OPTIMIZERS):
            return (f"{where}: only the built-in optimizers take a schedule (their update takes "
                    f"each step's learning rate); {parent['optimizer']!r} is user-defined")
        valid = _valid_keys(parent, path)
        hint = _closest(path[-1], valid) or (f"; known keys: {', '.join(valid)}" if valid else "")
        return f"{where}: unknown key{hint}"
    if kind == "union_tag_invalid":
        tag_name, what, registry = _union_tag(err)
        tag = err["ctx"]["tag"]
        if not path or path[-1] != tag_name:
            path = path + (tag_name,)
        where = _where(source, lines, path)
        return (f"{where}: unknown {what} {tag!r}{_closest(tag, registry)}; "
                f"known: {', '.join(registry)}")
    if kind == "union_tag_not_found":
        tag_name, what, _ = _union_tag(err)
        return f"{where}: missing key {tag_name!r} (which {what} to use)"
    if kind == "missing":
        return f"{where}: required key is missing"
    rule = _rule(err)
    if kind in ("value_error", "assertion_error") and "got" in rule:
        return f"{where}: {rule}{_yaml_hint(err.get('input'))}"
    return f"{where}: {rule}, got {_describe(err.get('input'))}{_yaml_hint(err.get('input'))}"


def _union_tag(err: dict) -> tuple[str, str, dict]:
    """The key that names an entry's kind, what it names, and the registry of its names."""
    discriminator = err["ctx"]["discriminator"]
    if "function" in discriminator:
        return "function", "function", FUNCTIONS
    if "optimizer" in discriminator:
        return "optimizer", "optimizer", OPTIMIZERS
    return "name", "schedule", SCHEDULES


def _yaml_hint(value) -> str:
    """YAML 1.1 reads ``1e-3`` (no dot in the mantissa) as text, a common surprise."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return " (YAML reads this as text: write numbers like 1.0e-3, with a dot)"
    if isinstance(value, list):
        return next((h for v in value if (h := _yaml_hint(v))), "")
    return ""


def _lookup(data, path):
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _valid_keys(parent, path) -> list[str]:
    model = raw_model()
    if len(path) == 1:
        return list(model.model_fields)
    if isinstance(parent, dict):
        if path[-2] == SCHEDULE_KEY and parent.get("name") in SCHEDULES:
            return list(_schedule_model(parent["name"]).model_fields)
        if "optimizer" in parent and parent["optimizer"] in OPTIMIZERS:
            return list(_optimizer_model(parent["optimizer"]).model_fields)
        if "function" in parent and parent["function"] in FUNCTIONS:
            return list(_function_model(parent["function"]).model_fields)
        if path[0] == "target":
            return list(Target.model_fields)
        if path[0] == "divergence":
            return list(Divergence.model_fields)
        if "random" in parent:
            return list(RandomStart.model_fields)
        if path[0] == "panels":
            return list((Panel if len(path) == 3 else PanelLine).model_fields)
    return []


# ---------------------------------------------------------------------------------------------
# Loading


def load(path: str | Path, seed: int | None = None) -> Config:
    """Read, validate and normalise a config file; raise :class:`ConfigError` on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (UTF-8 expected)") from None
    return loads(text, source=path.name, default_name=path.stem, seed=seed, base_dir=path.parent)


def loads(text: str, source: str = "<config>", default_name: str = "config",
          seed: int | None = None, base_dir: str | Path | None = None) -> Config:
    """Validate a config given as YAML text (see :func:`load`).

    ``base_dir`` is where user-defined ``package.module:name`` references are also looked for
    (the config file's directory).
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(_yaml_error_message(exc, source)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from None
    lines = _LineMap(root)
    if lines.duplicates:
        dup_path, dup_line, first_line = lines.duplicates[0]
        raise ConfigError(f"{source}:{dup_line}: {format_path(dup_path)}: duplicate key "
                          f"(first given on line {first_line})")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a config is a mapping with 'functions' and 'optimizers', "
                          f"got {type(data).__name__ if data is not None else 'an empty file'}")
    _prepare_user_entries(data, source, lines, base_dir)
    try:
        raw = raw_model().model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # A typo'd key also makes its intended key missing: name the typo, which explains both.
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        raise ConfigError(_error_message(first, data, source, lines)) from None
    return _normalise(raw, data, source, lines, default_name, seed)


def _yaml_error_message(exc: yaml.MarkedYAMLError, source: str) -> str:
    """``file:line: invalid YAML: problem (context on line n)``: the line where the parser
    stopped, and the line of the construct it was reading when that one started earlier."""
    mark = exc.problem_mark or exc.context_mark
    line = f":{mark.line + 1}" if mark else ""
    problem = exc.problem or exc.context or "cannot parse"
    text = f"{source}{line}: invalid YAML: {problem}"
    context = exc.context_mark
    if exc.problem and exc.context and context is not None and (mark is None or context.line != mark.line):
        text += f" ({exc.context} on line {context.line + 1})"
    return text


def _prepare_user_entries(data: dict, source: str, lines: _LineMap, base_dir) -> None:
    """Expression shorthand, and import and register the user-defined callables a config names.

    An entry with ``expression`` and no ``function`` is ``function: expression``. A
    ``function`` or ``optimizer`` of the form ``package.module:name`` is imported, checked
    against its protocol (:mod:`optbench.plugins`) and registered under that name.
    """
    from . import plugins  # local: only configs that name user code pay for it

    base_dirs = (base_dir,) if base_dir is not None else ()
    for section, register in (("functions", plugins.register_function),
                              ("optimizers", plugins.register_optimizer)):
        entries = data.get(section)
        if not isinstance(entries, list):
            continue
        key = section[:-1]
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                continue
            if section == "functions" and "expression" in entry and "function" not in entry:
                entry["function"] = "expression"
            if plugins.is_reference(entry.get(key)):
                try:
                    register(entry[key], base_dirs)
                except plugins.PluginError as exc:
                    raise ConfigError(f"{_where(source, lines, (section, i, key))}: {exc}") from None


def _normalise(raw, data, source, lines, default_name, seed) -> Config:
    def fail(path, message):
        raise ConfigError(f"{_where(source, lines, tuple(path))}: {message}")

    functions = []
    labels: dict[str, int] = {}
    for i, entry in enumerate(raw.functions):
        spec = FUNCTIONS[entry.function]
        params = {
            k: v for k in spec.parameters() if (v := getattr(entry, k)) is not None
        }
        label = entry.label or entry.function
        if label in labels:
            given = "label" if entry.label else "default label (the function's name)"
            fail(("functions", i, "label"),
                 f"{given} {label!r} is already used by functions[{labels[label]}]; "
                 f"give each function entry its own label")
        labels[label] = i
        for key, value in params.items():
            if not _is_numeric_tree(value) and not _is_text_parameter(spec, key):
                fail(("functions", i, key),
                     f"must be a number or a list of numbers, got {_describe(value)}{_yaml_hint(value)}")
        try:
            objective = spec.factory(**params)
        except (ValueError, TypeError) as exc:
            key = _key_of_error(str(exc), params)
            message = str(exc)
            if key and "got" not in message:
                message += f", got {_describe(params[key])}"
            fail(("functions", i) + ((key,) if key else ()), message)
        start = entry.start
        if isinstance(start, list) and start and not isinstance(start[0], list):
            start = [start]
        if isinstance(start, list):
            for j, point in enumerate(start):
                if len(point) != objective.dim:
                    fail(("functions", i, "start") + ((j,) if len(start) > 1 else ()),
                         f"a start point needs {objective.dim} coordinates for this function, got {len(point)}")
                if not all(np.isfinite(point)):
                    fail(("functions", i, "start"), f"start points must be finite, got {point}")
        elif start.box is not None:
            if len(start.box) != objective.dim:
                fail(("functions", i, "start", "box"),
                     f"box needs [low, high] for each of {objective.dim} coordinates, got {len(start.box)}")
            for j, (lo, hi) in enumerate(start.box):
                if not lo < hi:
                    fail(("functions", i, "start", "box", j), f"box needs low < high, got [{lo}, {hi}]")
        functions.append(FunctionEntry(label=label, function=entry.function, params=params,
                                       start=start, noise=entry.noise or 0.0))

    optimizers = []
    opt_labels: dict[str, int] = {}
    for i, entry in enumerate(raw.optimizers):
        spec = OPTIMIZERS[entry.optimizer]
        hypers = {
            name: value
            for name in spec.hyperparameters
            if (value := getattr(entry, name)) is not None
        }
        schedule = getattr(entry, SCHEDULE_KEY, None)
        if schedule is not None:
            # Flat keys, so that the grid, the groups and the saved results treat the schedule's
            # parameters like hyperparameters: schedule=step_lr, schedule.gamma=0.5.
            hypers[SCHEDULE_KEY] = Sweep(values=(schedule.name,), scale="single")
            for pname in SCHEDULES[schedule.name].hyperparameters:
                if (value := getattr(schedule, pname)) is not None:
                    hypers[f"{SCHEDULE_KEY}.{pname}"] = value
        label = entry.label or _default_label(entry.optimizer, hypers)
        if label in opt_labels:
            given = "label" if entry.label else "default label"
            fail(("optimizers", i, "label"),
                 f"{given} {label!r} is already used by optimizers[{opt_labels[label]}]; "
                 f"give each optimizer entry its own label")
        opt_labels[label] = i
        if entry.functions is not None:
            for j, fname in enumerate(entry.functions):
                if fname not in labels:
                    fail(("optimizers", i, "functions", j),
                         f"no function labelled {fname!r}{_closest(fname, labels)}; labels: {', '.join(sorted(labels))}")
        # Cross-parameter rules are the factory's: try it on every combination's extremes.
        _check_factory(spec, hypers, lambda msg, key=None, i=i: fail(
            ("optimizers", i) + ((key,) if key else ()), msg))
        optimizers.append(OptimizerEntry(
            label=label, optimizer=entry.optimizer,
            functions=tuple(entry.functions) if entry.functions is not None else None,
            hyperparameters=hypers,
        ))

    panels = _check_panels(raw.panels, labels, optimizers, fail)

    return Config(
        name=raw.name or default_name,
        description=raw.description,
        seed=raw.seed if seed is None else seed,
        steps=raw.steps,
        precision=raw.precision,
        target=raw.target,
        divergence=raw.divergence,
        record=raw.record,
        functions=tuple(functions),
        optimizers=tuple(optimizers),
        panels=panels,
    )


def _is_numeric_tree(value) -> bool:
    """A number, or a non-empty (nested) list of numbers."""
    if isinstance(value, list):
        return bool(value) and all(_is_numeric_tree(v) for v in value)
    return _is_number(value)


def _is_text_parameter(spec, name: str) -> bool:
    """True for a function parameter annotated ``str`` (e.g. an expression's text)."""
    annotation = inspect.signature(spec.factory).parameters[name].annotation
    return annotation in (str, "str")


def _check_panels(panels, function_labels, optimizers, fail) -> tuple[Panel, ...]:
    """Each panel names a function, and optimizer entries that run on it, and settings they have."""
    from .sweep import expand_grid  # local: sweep imports this module

    by_label = {o.label: o for o in optimizers}
    for i, panel in enumerate(panels):
        if panel.function not in function_labels:
            fail(("panels", i, "function"),
                 f"no function labelled {panel.function!r}{_closest(panel.function, function_labels)}; "
                 f"labels: {', '.join(sorted(function_labels))}")
        for j, line in enumerate(panel.show):
            where = ("panels", i, "show", j)
            entry = by_label.get(line.optimizer)
            if entry is None:
                fail(where + ("optimizer",),
                     f"no optimizer labelled {line.optimizer!r}{_closest(line.optimizer, by_label)}")
            if entry.functions is not None and panel.function not in entry.functions:
                fail(where + ("optimizer",),
                     f"{line.optimizer!r} does not run on {panel.function!r} "
                     f"(its functions: {', '.join(entry.functions)})")
            points, _ = expand_grid(entry.hyperparameters)
            names = [n for n, v in entry.hyperparameters.items() for n in
                     ([n, f"{n}[0]", f"{n}[1]"] if isinstance(v, tuple) else [n])]
            for key, wanted in line.setting.items():
                if key not in names:
                    fail(where + ("setting", key),
                         f"{line.optimizer!r} does not set {key!r}{_closest(key, names)}; "
                         f"it sets: {', '.join(names) or 'nothing (torch defaults)'}")
                if not any(setting_matches(p, {key: wanted}) for p in points):
                    values = sorted({format_value(_component(p, key)) for p in points})
                    fail(where + ("setting", key),
                         f"no setting of {line.optimizer!r} has {key}={wanted!r}; "
                         f"its values: {', '.join(values)}")
            chosen = sum(setting_matches(p, line.setting) for p in points)
            if chosen == 0:
                fail(where + ("setting",), f"no setting of {line.optimizer!r} has all of {line.setting}")
            if chosen > MAX_PANEL_PATHS:
                fail(where + ("optimizer",),
                     f"picks {chosen} settings of {line.optimizer!r}; a panel draws at most "
                     f"{MAX_PANEL_PATHS}: pick some with 'setting', e.g. {{lr: ...}}")
    return tuple(panels)


def _component(point: dict, key: str):
    base, _, index = key.partition("[")
    value = point[base]
    if index:
        return value[int(index[:-1])]
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _key_of_error(message: str, keys) -> str | None:
    first = message.split(" ", 1)[0].split("[", 1)[0]
    return first if first in keys else None


def _default_label(name: str, hypers: dict) -> str:
    """``adam`` or ``adam(lr=0.1)``: the optimizer with its fixed (unswept) settings."""
    parts = []
    schedule_parts = []
    for key, value in hypers.items():
        # schedule=step_lr, schedule.gamma=0.5 -> step_lr(gamma=0.5)
        if key.startswith(SCHEDULE_KEY):
            if key != SCHEDULE_KEY and not value.is_sweep:
                schedule_parts.append(f"{key.partition('.')[2]}={format_value(value.values[0])}")
            continue
        if isinstance(value, tuple):
            if not any(s.is_sweep for s in value):
                parts.append(f"{key}=({', '.join(format_value(s.values[0]) for s in value)})")
        elif not value.is_sweep:
            parts.append(f"{key}={format_value(value.values[0])}")
    if SCHEDULE_KEY in hypers:
        parts.append(f"{hypers[SCHEDULE_KEY].values[0]}({', '.join(schedule_parts)})")
    return f"{name}({', '.join(parts)})" if parts else name


def format_value(v) -> str:
    """Short, exact-enough text of a hyperparameter value."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _check_factory(spec, hypers, fail) -> None:
    """Run the optimizer's own checks (e.g. nesterov needs momentum) on all swept values at once."""
    from .sweep import expand_grid  # local: sweep imports this module

    points, _ = expand_grid(hypers)
    if not points:
        return
    discrete = {k for k, h in spec.hyperparameters.items() if h.kind in ("bool", "choice")}
    groups: dict[tuple, list[dict]] = {}
    for p in points:
        groups.setdefault(tuple((k, p[k]) for k in sorted(discrete) if k in p), []).append(p)
    for key, members in groups.items():
        kwargs = dict(key)
        for name, hyper in spec.hyperparameters.items():
            if name in kwargs:
                continue
            if hyper.kind == "pair" and name in members[0]:
                kwargs[name] = tuple(np.array([m[name][c] for m in members]) for c in range(2))
            elif name in members[0]:
                kwargs[name] = np.array([m[name] for m in members])
        try:
            spec.factory(**kwargs)
        except ValueError as exc:
            message = str(exc)
            if "got" not in message:
                message += ", got " + _offending_setting(spec, members, dict(key), message)
            fail(message, _key_of_error(message, hypers))


def _offending_setting(spec, members: list[dict], static: dict, message: str) -> str:
    """The first grid point the factory rejects, shown by the hyperparameters the message names
    (``nesterov=true, momentum=0 (default)``)."""
    bad = members[0]
    for point in members:
        try:
            spec.factory(**{**point, **static})
        except ValueError:
            bad = point
            break
    named = [h for h in spec.hyperparameters if re.search(rf"\b{re.escape(h)}\b", message)]
    parts = []
    for name in named or list(bad):
        if name in bad:
            value = bad[name]
            text = ("(" + ", ".join(map(format_value, value)) + ")" if isinstance(value, tuple)
                    else format_value(value))
            parts.append(f"{name}={text}")
        else:
            parts.append(f"{name}={_default_text(spec.hyperparameters[name].default)} (default)")
    return ", ".join(parts)


def _default_text(value) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(map(format_value, value)) + ")"
    return format_value(value)
