"""How a weights file's keys meet a model's, and the message when they do not (no torch).

Everything here works on ``{key: shape}`` dictionaries (``shape`` a tuple of sizes, or
``None`` for a value that is not a tensor), so the same rules serve the live model, the
worker and the command line's checks:

- a key the model has is used as it is (a module target plus the tensor's name:
  ``layer2.0.downsample.0.weight``);
- a key in the flat names of the earlier release (``layer2_0_downsample_0.weight``) is
  migrated to its target, through the design's old-name table
  (:func:`engine.codegen.targets.legacy_flat_keys`) or, failing that, when its dots and
  underscores are the only difference from exactly one key of the model;
- torchvision's GoogLeNet and Inception files carry auxiliary classifiers (``aux1``,
  ``aux2``, ``AuxLogits``) used only in training; when the model has no such module they
  are set aside with a note;
- everything else is missing, unexpected or of the wrong shape, reported by
  :func:`mismatch_lines`: counts, then at most :data:`SHOWN` keys of each kind with their
  shapes, each list ending with "and N more".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

Shape = tuple[int, ...] | None

#: BatchNorm's step counter: torch accepts files without it, and so does ConvCanvas.
OPTIONAL_SUFFIX = ".num_batches_tracked"
#: Top-level modules of torchvision's training-only auxiliary classifiers.
AUX_HEADS = ("aux1", "aux2", "AuxLogits")
#: How many keys of each kind a message lists.
SHOWN = 10


@dataclass
class Fit:
    """How a file's keys map onto a model's.

    Attributes
    ----------
    rename : dict[str, str]
        File key → model key, for the keys whose names differ (old flat names).
    set_aside : list[str]
        File keys left unused on purpose (auxiliary classifiers).
    missing, unexpected : list[str]
        Model keys the file lacks; file keys the model lacks.
    mismatched : list of (model key, model shape, file shape)
        Keys present on both sides whose shapes differ.
    notes : list[str]
        One line per thing done on the way (a migration, heads set aside).
    """

    rename: dict[str, str] = field(default_factory=dict)
    set_aside: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, Shape, Shape]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        """Whether every model key is found with its shape and no file key is left over."""
        return not (self.missing or self.unexpected or self.mismatched)


def _split(key: str) -> tuple[str, str]:
    head, _, last = key.rpartition(".")
    return head, last


def _flat(key: str) -> str:
    """The key with its module path written as one flat name (``a.0.b.weight`` → ``a_0_b.weight``)."""
    head, last = _split(key)
    return f"{head.replace('.', '_')}.{last}" if head else key


def _unique_by(keys, fn) -> dict[str, str]:
    """``{fn(key): key}`` for the values of ``fn`` that only one key gives."""
    seen: dict[str, list[str]] = {}
    for k in keys:
        seen.setdefault(fn(k), []).append(k)
    return {f: ks[0] for f, ks in seen.items() if len(ks) == 1}


def fit_keys(
    own: Mapping[str, Shape],
    found: Mapping[str, Shape],
    legacy: Mapping[str, str] | None = None,
    name: str = "weights",
) -> Fit:
    """Match a file's keys (``found``) against a model's (``own``).

    Parameters
    ----------
    own, found : mapping of key to shape
        The model's ``state_dict`` shapes and the file's.
    legacy : mapping of str to str, optional
        Old flat layer name → module target (:func:`engine.codegen.targets.legacy_flat_keys`).
    name : str
        The file's name, for the notes.

    Returns
    -------
    Fit
        The renames, what is set aside, and what is missing, unexpected or mis-shaped.
    """
    fit = Fit()
    taken = {k for k in found if k in own}
    for k in found:
        if k in own:
            continue
        head, dot, rest = k.partition(".")
        target = (legacy or {}).get(head)
        if dot and target is not None and f"{target}.{rest}" in own:
            new = f"{target}.{rest}"
            if new not in taken:
                fit.rename[k] = new
                taken.add(new)
    left_file = [k for k in found if k not in own and k not in fit.rename]
    left_own = [k for k in own if k not in taken]
    by_flat = _unique_by(left_own, _flat)
    flat_file = _unique_by(left_file, _flat)
    for f, k in flat_file.items():
        if f in by_flat:
            fit.rename[k] = by_flat[f]
            taken.add(by_flat[f])
    migrated = [(k, v) for k, v in fit.rename.items() if k.count(".") < v.count(".")]
    if migrated:
        old, new = min(migrated)
        fit.notes.append(
            f"{name}: {len(migrated)} keys in the flat names of an earlier release "
            f"(e.g. '{old}'), migrated to module targets (e.g. '{new}')"
        )
    own_heads = {k.split(".", 1)[0] for k in own}
    for k in found:
        if k in own or k in fit.rename:
            continue
        top = k.split(".", 1)[0]
        if top in AUX_HEADS and top not in own_heads:
            fit.set_aside.append(k)
        else:
            fit.unexpected.append(k)
    if fit.set_aside:
        heads = sorted({k.split(".", 1)[0] for k in fit.set_aside})
        fit.notes.append(
            f"{name}: {len(fit.set_aside)} tensors of torchvision's auxiliary classifiers "
            f"({', '.join(heads)}) set aside: they are used only in training"
        )
    fit.missing = [k for k in own if k not in taken and not k.endswith(OPTIONAL_SUFFIX)]
    back = {v: k for k, v in fit.rename.items()}
    for k, want in own.items():
        src = k if k in found else back.get(k)
        if src is None:
            continue
        got = found[src]
        if got is None or tuple(got) != tuple(want or ()):
            fit.mismatched.append((k, want, None if got is None else tuple(got)))
    return fit


def migrate_flat_names(
    state: Mapping, legacy: Mapping[str, str], layers: set[str], name: str = "weights"
) -> tuple[dict, str | None]:
    """Rename a design's stored tensors from the earlier release's flat names to targets.

    Parameters
    ----------
    state : mapping
        ``{key: array}`` as read from the file.
    legacy : mapping of str to str
        Old flat layer name → target (:func:`engine.codegen.targets.legacy_flat_keys`).
    layers : set of str
        The layer names the design uses today (the part of a key before the tensor's name).
    name : str
        The file's name, for the note.

    Returns
    -------
    (dict, str or None)
        The renamed state and, when anything was renamed, the one line saying so.
    """
    out, renamed = {}, []
    for key, value in state.items():
        layer, _, rest = key.rpartition(".")
        target = legacy.get(layer)
        if layer and layer not in layers and target is not None and target in layers:
            out[f"{target}.{rest}"] = value
            renamed.append((key, f"{target}.{rest}"))
        else:
            out[key] = value
    if not renamed:
        return out, None
    old, new = min(renamed)
    return out, (
        f"{name}: {len(renamed)} keys in the flat names of an earlier release "
        f"(e.g. '{old}'), migrated to module targets (e.g. '{new}')"
    )


def migrate_state(state: Mapping, fit: Fit) -> dict:
    """``state`` with the keys :func:`fit_keys` renamed, without the keys it set aside."""
    aside = set(fit.set_aside)
    return {fit.rename.get(k, k): v for k, v in state.items() if k not in aside}


def shape_text(shape: Shape) -> str:
    """``64x3x7x7``; ``scalar`` for a 0-d tensor; ``not a tensor`` for ``None``."""
    if shape is None:
        return "not a tensor"
    return "x".join(str(d) for d in shape) if shape else "scalar"


def _listed(title: str, items: list[str]) -> list[str]:
    if not items:
        return []
    out = [f"{title} ({len(items)}):"]
    out += [f"  {line}" for line in items[:SHOWN]]
    if len(items) > SHOWN:
        out.append(f"  and {len(items) - SHOWN} more")
    return out


def mismatch_lines(
    fit: Fit,
    own: Mapping[str, Shape],
    found: Mapping[str, Shape],
    name: str = "weights",
    hint: str | None = None,
) -> list[str]:
    """The message of a file that does not fit, one entry per printed line.

    The first line gives the counts; ``hint`` (e.g. "these are torchvision ResNet-50
    keys…") follows; then at most :data:`SHOWN` missing, unexpected and mis-shaped keys,
    each with its shape(s), each list ending with "and N more" when it is longer.
    """
    counts = []
    if fit.missing:
        counts.append(f"{len(fit.missing)} missing")
    if fit.unexpected:
        counts.append(f"{len(fit.unexpected)} unexpected")
    if fit.mismatched:
        counts.append(f"{len(fit.mismatched)} of the wrong shape")
    lines = [f"{name}: the weights do not fit this model ({', '.join(counts)}); nothing was loaded"]
    if hint:
        lines.append(hint)
    lines += _listed(
        "missing from the file",
        [f"{k}  {shape_text(own[k])}" for k in fit.missing],
    )
    lines += _listed(
        "in the file, not in the model",
        [f"{k}  {shape_text(found[k])}" for k in fit.unexpected],
    )
    lines += _listed(
        "of the wrong shape",
        [
            f"{k}: {shape_text(got)} in the file, the model needs {shape_text(want)}"
            for k, want, got in fit.mismatched
        ],
    )
    return lines


def _signature(shapes: Mapping[str, Shape]) -> dict[str, Shape]:
    """Flat-name keys without optional counters and auxiliary heads (old and new files alike)."""
    return {
        _flat(k): (None if v is None else tuple(v))
        for k, v in shapes.items()
        if not k.endswith(OPTIONAL_SUFFIX) and k.split(".", 1)[0] not in AUX_HEADS
    }


def same_keys(a: Mapping[str, Shape], b: Mapping[str, Shape]) -> bool:
    """Whether two ``state_dict`` shape maps have the same layers (flat or dotted names)."""
    return _signature(a).keys() == _signature(b).keys()


def closest_design(
    found: Mapping[str, Shape], designs: Mapping[str, Mapping[str, Shape]], share: float = 0.95
) -> str | None:
    """The design a file obviously belongs to, or ``None``.

    Parameters
    ----------
    found : mapping of key to shape
        The file's tensors.
    designs : mapping of label to (mapping of key to shape)
        Candidate designs' ``state_dict`` shapes.
    share : float
        A design is obvious when at least this share of its keys and of the file's keys
        are common (by module path, flat or dotted); among those, the one with the most
        keys of equal shape wins.
    """
    sig = _signature(found)
    if not sig:
        return None
    best, best_score = None, (0, 0)
    for label, shapes in designs.items():
        ref = _signature(shapes)
        common = sig.keys() & ref.keys()
        if not ref or len(common) < share * len(ref) or len(common) < share * len(sig):
            continue
        score = (sum(sig[k] == ref[k] for k in common), -abs(len(ref) - len(sig)))
        if score > best_score:
            best, best_score = label, score
    return best
