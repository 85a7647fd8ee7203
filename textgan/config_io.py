"""Read, validate, override and write `Config`s.

Every problem (unknown key, wrong type, value out of range) is collected and reported in ONE `UserError`
naming the key, the bad value and what is allowed, with a "did you mean" for misspelt keys.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

from textgan.config import Config
from textgan.errors import UserError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def shipped_configs() -> list[str]:
    """Names of the configs shipped in `textgan/configs/` (usable as `--config NAME`)."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def resolve_config_path(name_or_path: str) -> Path:
    """A path to a YAML file, or the name of a shipped config ('oracle', 'coco', ...)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = CONFIG_DIR / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    raise UserError(f"config file {name_or_path!r} not found; give a YAML path or one of: "
                    f"{', '.join(shipped_configs())}")


def load_config(path: str | None, overrides: Sequence[str] = (),
                choices: Mapping[str, Sequence[str]] | None = None,
                sections: Mapping[str, type] | None = None) -> Config:
    """Defaults <- YAML file <- `section.key=value` overrides, validated all at once.

    `choices` adds allowed values for string keys whose options live elsewhere (e.g. the estimator registry);
    `sections` maps the estimator option sections to their dataclasses (`estimators.registry.option_sections`).
    """
    tree: dict[str, Any] = {}
    if path is not None:
        file = resolve_config_path(path)
        try:
            loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            raise UserError(f"config {file} is not valid YAML ({str(err).splitlines()[0]}); fix the file") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise UserError(f"config {file} must be a mapping of sections (run:, data:, ...), "
                            f"not {type(loaded).__name__}")
        tree = loaded or {}
    errors: list[str] = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            errors.append(f"override {item!r} is not of the form section.key=value")
            continue
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        _set_path(tree, key.split("."), value)
    return config_from_dict(tree, choices=choices, errors=errors, sections=sections)


def config_from_dict(tree: Mapping[str, Any], choices: Mapping[str, Sequence[str]] | None = None,
                     errors: list[str] | None = None, sections: Mapping[str, type] | None = None,
                     strict: bool = True) -> Config:
    """Build and validate a Config from a nested dict (as stored in run directories and checkpoints).

    Top-level keys other than the core sections are estimator option sections, built from `sections`; with
    `strict=False` (a stored run read back) a section no registered estimator knows is kept as a plain dict."""
    errors = list(errors or [])
    if not isinstance(tree, Mapping):
        raise UserError(f"invalid config: expected a mapping of sections (run:, data:, ...), got {tree!r}")
    sections = dict(sections or {})
    core = [f.name for f in dataclasses.fields(Config) if f.name != "estimators"]
    options: dict[str, Any] = {}
    for key, value in tree.items():
        if key in core:
            continue
        if key in sections:
            options[key] = _build(sections[key], value, f"{key}.", errors)
        elif not strict:
            options[key] = dict(value) if isinstance(value, Mapping) else value
        else:
            close = difflib.get_close_matches(str(key), core + list(sections), n=1)
            hint = f" (did you mean {close[0]}?)" if close else f" (allowed: {', '.join(core + list(sections))})"
            errors.append(f"{key}: unknown section{hint}")
    for key, cls in sections.items():
        options.setdefault(key, _build(cls, {}, f"{key}.", errors))
    config = _build(Config, {k: v for k, v in tree.items() if k in core}, "", errors)
    config.estimators = options
    for key, allowed in (choices or {}).items():
        value = get_value(config, key)
        if value not in allowed:
            errors.append(f"{key}={value!r}: must be one of {', '.join(map(str, allowed))}")
    errors.extend(_cross_checks(config))
    if errors:
        raise UserError("invalid config: " + "; ".join(errors))
    return config


def config_to_dict(config: Config) -> dict[str, Any]:
    """Plain nested dict of a config (YAML/JSON/checkpoint safe); estimator sections at the top level."""
    tree = {f.name: dataclasses.asdict(getattr(config, f.name)) for f in dataclasses.fields(config)
            if f.name != "estimators"}
    for key, value in config.estimators.items():
        tree[key] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else dict(value)
    return tree


def dump_config(config: Config) -> str:
    """The resolved config as YAML, each key with its help text as a comment."""
    lines: list[str] = []
    _dump(config, 0, lines)
    for key, value in config.estimators.items():
        if dataclasses.is_dataclass(value):
            lines.append(f"{key}:")
            _dump(value, 1, lines)
    return "\n".join(lines) + "\n"


def check_options(options: Any, section: str) -> None:
    """Validate a dataclass of options built by hand (types, choices, bounds) as a config section would be;
    one UserError naming every problem."""
    errors: list[str] = []
    _build(type(options), dataclasses.asdict(options), f"{section}.", errors)
    if errors:
        raise UserError("invalid options: " + "; ".join(errors))


def get_value(config: Any, dotted: str) -> Any:
    """`get_value(cfg, "run.seed")` (estimator sections too: `get_value(cfg, "reinforce.num_rollouts")`)."""
    first, _, rest = dotted.partition(".")
    if isinstance(config, Config) and first in config.estimators:
        config = config.estimators[first]
    else:
        config = getattr(config, first)
    for part in rest.split(".") if rest else []:
        config = config[part] if isinstance(config, Mapping) else getattr(config, part)
    return config


def _set_path(tree: dict[str, Any], parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        child = tree.get(part)
        if not isinstance(child, dict):
            child = tree[part] = {}
        tree = child
    tree[parts[-1]] = value


def _build(cls: type, tree: Any, prefix: str, errors: list[str]) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if not isinstance(tree, Mapping):
        errors.append(f"{prefix.rstrip('.') or 'config'}: expected a mapping of keys, got {tree!r}")
        tree = {}
    for key in tree:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" (did you mean {prefix}{close[0]}?)" if close else f" (allowed: {', '.join(fields)})"
            errors.append(f"{prefix}{key}: unknown key{hint}")
    values: dict[str, Any] = {}
    for name, f in fields.items():
        kind = hints[name]
        if dataclasses.is_dataclass(kind):
            values[name] = _build(kind, tree.get(name, {}), f"{prefix}{name}.", errors)
            continue
        if name not in tree:
            continue
        value, problem = _coerce(tree[name], kind)
        if problem is None:
            problem = _check_bounds(value, f.metadata)
        if problem is not None:
            errors.append(f"{prefix}{name}={tree[name]!r}: {problem}")
        else:
            values[name] = value
    try:
        return cls(**values)
    except ValueError as err:  # an options dataclass's own cross-field check (__post_init__)
        errors.append(f"{prefix.rstrip('.')}: {err}")
        return cls()


def _coerce(value: Any, kind: Any) -> tuple[Any, str | None]:
    """Return (value, None) if `value` fits the annotation `kind`, else (None, what is expected)."""
    if get_origin(kind) is Literal:
        allowed = get_args(kind)
        return (value, None) if value in allowed else (None, f"must be one of {', '.join(map(str, allowed))}")
    if kind is bool:
        return (value, None) if isinstance(value, bool) else (None, "expected true or false")
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return (value, None) if ok else (None, "expected an integer")
    if kind is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as a string
            try:
                return float(value), None
            except ValueError:
                return None, "expected a number"
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return (float(value), None) if ok else (None, "expected a number")
    if kind is str:
        return (value, None) if isinstance(value, str) else (None, "expected a string")
    if get_origin(kind) is dict:
        ok = isinstance(value, Mapping) and all(isinstance(k, (str, int)) and not isinstance(k, bool)
                                                and isinstance(v, str) for k, v in value.items())
        expected = "expected a mapping of names to strings, e.g. {pos: a.txt}"
        return ({str(k): v for k, v in value.items()}, None) if ok else (None, expected)
    if get_origin(kind) is list:
        (item,) = get_args(kind)
        if not isinstance(value, list):
            return None, f"expected a list of {item.__name__}"
        out = []
        for v in value:
            coerced, problem = _coerce(v, item)
            if problem:
                return None, f"expected a list of {item.__name__}"
            out.append(coerced)
        return out, None
    raise TypeError(f"unsupported config annotation {kind}")  # internal: a new field type needs support here


def _check_bounds(value: Any, meta: Mapping[str, Any]) -> str | None:
    items = value if isinstance(value, list) else [value]
    for v in items:
        if not isinstance(v, (int, float)):
            return None
        if "min" in meta and v < meta["min"]:
            return f"must be >= {meta['min']}"
        if "max" in meta and v > meta["max"]:
            return f"must be <= {meta['max']}"
        if "gt" in meta and v <= meta["gt"]:
            return f"must be > {meta['gt']}"
        if "lt" in meta and v >= meta["lt"]:
            return f"must be < {meta['lt']}"
    return None


def _cross_checks(config: Config) -> list[str]:
    errors = []
    d = config.discriminator
    if len(d.filter_sizes) != len(d.num_filters) or not d.filter_sizes:
        errors.append(f"discriminator.filter_sizes ({len(d.filter_sizes)}) and discriminator.num_filters "
                      f"({len(d.num_filters)}) must be non-empty lists of the same length")
    if d.r1_weight > 0 and config.adversarial.gan_loss == "wgan-gp":
        errors.append("discriminator.r1_weight > 0 with adversarial.gan_loss=wgan-gp: the critic already has its "
                      "gradient penalty; use R1 with bce, nsgan, rsgan or hinge")
    if d.fake_reuse > 1 and d.fake_pool == 0:
        errors.append(f"discriminator.fake_reuse={d.fake_reuse} reuses pooled fakes: set discriminator.fake_pool "
                      f"(e.g. 10000) or fake_reuse=1")
    if d.conditional == "classes" and config.adversarial.gan_loss != "bce":
        errors.append(f"discriminator.conditional=classes with adversarial.gan_loss={config.adversarial.gan_loss}: "
                      f"the (K+1)-class head is trained by cross-entropy; use adversarial.gan_loss=bce")
    g = config.generator
    if g.tie_weights and g.embedding_size != g.hidden_size:
        errors.append(f"generator.tie_weights=true needs generator.embedding_size ({g.embedding_size}) == "
                      f"generator.hidden_size ({g.hidden_size})")
    data = config.data
    if data.source == "text" and not data.train and not data.classes:
        errors.append("data.train is empty: with data.source=text give a training file (data.train=PATH)")
    if data.classes and (data.train or data.format == "labelled"):
        errors.append("data.classes gives the training data one file per class: leave data.train empty and "
                      "data.format=plain")
    if data.valid_fraction + data.test_fraction >= 1:
        errors.append(f"data.valid_fraction ({data.valid_fraction}) + data.test_fraction ({data.test_fraction}) "
                      f"must be < 1")
    for key in ("pretrain.betas", "d_pretrain.betas", "adversarial.g_betas", "adversarial.d_betas"):
        betas = get_value(config, key)
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            errors.append(f"{key}={betas}: must be two numbers in [0, 1), e.g. [0.9, 0.999]")
    return errors


def _dump(obj: Any, depth: int, lines: list[str]) -> None:
    pad = "  " * depth
    for f in dataclasses.fields(obj):
        if f.name == "estimators":
            continue  # dumped as top-level sections
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            lines.append(f"{pad}{f.name}:")
            _dump(value, depth + 1, lines)
        else:
            text = yaml.safe_dump(value, default_flow_style=True, width=1 << 30).strip()  # one line per key
            if text.endswith("\n..."):
                text = text[: -len("\n...")]
            text = text.removesuffix("...").strip()
            help_text = f.metadata.get("help", "").strip()
            lines.append(f"{pad}{f.name}: {text}" + (f"  # {help_text}" if help_text else ""))
