"""Parameter checking: one value (:func:`check_param`), a whole dictionary with torch's
defaults and the checks across parameters (:func:`normalize_params`), and the flat tuple
the analysis works on (:func:`compile_params`)."""

from __future__ import annotations

import math
from typing import Any

from engine.core.errors import ParamError
from engine.nodes.specs import NODE_TYPES, ParamSpec


# --------------------------------------------------------------------------- params
def _where(node: str | None) -> str:
    return f"node '{node}'" if node is not None else "node"


def _check_int(value: Any, spec: ParamSpec, node: str | None, what: str = "") -> int:
    name = spec.name + what
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamError(
            f"{_where(node)}: '{name}' must be an integer, got {value!r}", node, spec.name
        )
    if spec.minimum is not None and value < spec.minimum:
        raise ParamError(
            f"{_where(node)}: '{name}' must be at least {int(spec.minimum)}, got {value}",
            node,
            spec.name,
        )
    if spec.maximum is not None and value > spec.maximum:
        raise ParamError(
            f"{_where(node)}: '{name}' must be at most {int(spec.maximum)}, got {value}",
            node,
            spec.name,
        )
    return value


def _check_pair(value: Any, spec: ParamSpec, node: str | None) -> int | list[int]:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ParamError(
                f"{_where(node)}: '{spec.name}' must be an integer or [h, w], got {list(value)!r}",
                node,
                spec.name,
            )
        return [_check_int(value[0], spec, node, "[0]"), _check_int(value[1], spec, node, "[1]")]
    return _check_int(value, spec, node)


def _check_float(value: Any, spec: ParamSpec, node: str | None) -> float:
    name = spec.name
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        raise ParamError(
            f"{_where(node)}: '{name}' must be between {spec.minimum:g} and "
            f"{spec.maximum:g}, got a {len(str(abs(value)))}-digit integer",
            node,
            name,
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParamError(f"{_where(node)}: '{name}' must be a number, got {value!r}", node, name)
    if (
        spec.minimum is not None
        and value < spec.minimum
        or spec.maximum is not None
        and value > spec.maximum
    ):
        raise ParamError(
            f"{_where(node)}: '{name}' must be between {spec.minimum:g} and "
            f"{spec.maximum:g}, got {value}",
            node,
            name,
        )
    return float(value)


def check_param(type_name: str, name: str, value: Any, node: str | None = None) -> Any:
    """Check one parameter value and return it in canonical form.

    Parameters
    ----------
    type_name : str
        The node type.
    name : str
        The parameter name.
    value : Any
        The value as the user gave it (JSON-like).
    node : str, optional
        The node id, used in messages.

    Returns
    -------
    Any
        The value, with tuples turned into lists and ``[n, n]`` kept as given.

    Raises
    ------
    ParamError
        If the parameter is unknown, ill-typed or out of range.
    """
    ntype = NODE_TYPES[type_name]
    spec = ntype.param_index.get(name)
    if spec is None:
        known = ", ".join(ntype.param_index) or "none"
        raise ParamError(
            f"{_where(node)}: {type_name} has no parameter '{name}' (known: {known})", node, name
        )
    kind = spec.kind
    if kind == "int":
        return _check_int(value, spec, node)
    if kind == "pair":
        return _check_pair(value, spec, node)
    if kind == "optional_pair":
        return None if value is None else _check_pair(value, spec, node)
    if kind == "padding":
        if value == "same":
            return "same"
        if isinstance(value, str):
            raise ParamError(
                f"{_where(node)}: 'padding' must be an integer, [h, w] or \"same\", got {value!r}",
                node,
                name,
            )
        return _check_pair(value, spec, node)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ParamError(
                f"{_where(node)}: '{name}' must be true or false, got {value!r}", node, name
            )
        return value
    if kind == "optional_int":
        return None if value is None else _check_int(value, spec, node)
    if kind == "float":
        return _check_float(value, spec, node)
    if kind == "optional_float":
        return None if value is None else _check_float(value, spec, node)
    if kind == "choice":
        if not isinstance(value, str) or value not in spec.choices:
            options = ", ".join(repr(c) for c in spec.choices)
            raise ParamError(
                f"{_where(node)}: '{name}' must be one of {options}, got {value!r}", node, name
            )
        return value
    raise AssertionError(kind)  # pragma: no cover


def normalize_params(type_name: str, params: dict | None, node: str | None = None) -> dict:
    """Check a parameter dictionary and fill in torch's defaults.

    Parameters
    ----------
    type_name : str
        A key of :data:`NODE_TYPES`.
    params : dict or None
        The user's parameters.
    node : str, optional
        The node id, used in messages.

    Returns
    -------
    dict
        Every parameter of the type, in declaration order.

    Raises
    ------
    ParamError
        On unknown types, unknown, missing, ill-typed or out-of-range parameters.
    """
    ntype = NODE_TYPES.get(type_name)
    if ntype is None:
        known = ", ".join(NODE_TYPES)
        raise ParamError(
            f"{_where(node)}: unknown node type {type_name!r} (known: {known})", node, "type"
        )
    params = dict(params or {})
    for name in params:
        if name not in ntype.param_index:
            check_param(type_name, name, params[name], node)  # raises the unknown message
    out: dict[str, Any] = {}
    for spec in ntype.params:
        if spec.name in params:
            out[spec.name] = check_param(type_name, spec.name, params[spec.name], node)
        elif spec.required:
            raise ParamError(f"{_where(node)}: {type_name} needs '{spec.name}'", node, spec.name)
        else:
            out[spec.name] = spec.default
    if type_name == "conv" and out["padding"] == "same" and pair(out["stride"]) != (1, 1):
        raise ParamError(
            f'{_where(node)}: padding "same" needs stride 1 (as in torch); '
            f"set padding to a number or stride to 1",
            node,
            "padding",
        )
    if type_name in _CROSS_CHECKS:
        _CROSS_CHECKS[type_name](out, node)
    return out


def _check_upsample(p: dict, node: str | None) -> None:
    # size, when set, is used and scale_factor ignored: one parameter at a time can be
    # switched in the inspector without a moment where neither or both are refused.
    if p["size"] is None and p["scale_factor"] is None:
        raise ParamError(
            f"{_where(node)}: upsample needs 'scale_factor' or 'size'; set one of them",
            node,
            "scale_factor",
        )
    if p["align_corners"] and p["mode"] != "bilinear":
        raise ParamError(
            f"{_where(node)}: 'align_corners' needs mode \"bilinear\" (as in torch)",
            node,
            "align_corners",
        )


def _check_slice(p: dict, node: str | None) -> None:
    if p["start"] >= p["stop"]:
        raise ParamError(
            f"{_where(node)}: 'start' {p['start']} must be less than 'stop' {p['stop']} "
            f"(channels [start, stop) are kept)",
            node,
            "stop",
        )


def _check_conv_transpose(p: dict, node: str | None) -> None:
    for o, s, d, axis in zip(
        pair(p["output_padding"]), pair(p["stride"]), pair(p["dilation"]), "HW"
    ):
        if o >= s and o >= d:
            raise ParamError(
                f"{_where(node)}: 'output_padding' {o} along {axis} must be less than "
                f"stride {s} or dilation {d} (as in torch)",
                node,
                "output_padding",
            )


def _check_pad(p: dict, node: str | None) -> None:
    if p["value"] != 0.0 and p["mode"] != "constant":
        raise ParamError(
            f"{_where(node)}: 'value' is the fill of mode \"constant\" only (as in torch); "
            f"set it to 0 or the mode to constant",
            node,
            "value",
        )


def _check_clamp(p: dict, node: str | None) -> None:
    lo, hi = p["min"], p["max"]
    if lo is None and hi is None:
        raise ParamError(
            f"{_where(node)}: clamp needs 'min' or 'max' (or both); set one of them",
            node,
            "min",
        )
    if lo is not None and hi is not None and lo > hi:
        raise ParamError(f"{_where(node)}: 'min' {lo:g} must not exceed 'max' {hi:g}", node, "max")


_CROSS_CHECKS = {
    "clamp": _check_clamp,
    "pad": _check_pad,
    "upsample": _check_upsample,
    "channel_slice": _check_slice,
    "conv_transpose": _check_conv_transpose,
}


def pair(value: Any) -> tuple[int, int]:
    """Turn an int or ``[h, w]`` into a ``(h, w)`` tuple."""
    if isinstance(value, (list, tuple)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def compile_params(type_name: str, p: dict) -> tuple:
    """Turn checked parameters into the flat tuple the analysis functions take."""
    if type_name == "conv" or type_name == "conv1x1":
        if type_name == "conv":
            kh, kw = pair(p["kernel_size"])
            dh, dw = pair(p["dilation"])
            if p["padding"] == "same":
                th, tw = dh * (kh - 1), dw * (kw - 1)
                pads = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
            else:
                ph, pw = pair(p["padding"])
                pads = (ph, ph, pw, pw)
        else:
            kh = kw = dh = dw = 1
            pads = (0, 0, 0, 0)
        sh, sw = pair(p["stride"])
        return (p["out_channels"], kh, kw, sh, sw, pads, dh, dw, p["groups"], bool(p["bias"]))
    if type_name in ("maxpool", "avgpool"):
        kh, kw = pair(p["kernel_size"])
        sh, sw = pair(p["stride"]) if p["stride"] is not None else (kh, kw)
        ph, pw = pair(p["padding"])
        return (kh, kw, sh, sw, ph, pw, bool(p["ceil_mode"]))
    if type_name == "input":
        return (p["channels"], p["height"], p["width"])
    if type_name == "linear":
        return (p["out_features"], bool(p["bias"]))
    if type_name == "batchnorm":
        return (bool(p["affine"]),)
    if type_name == "adaptive_avgpool":
        return pair(p["output_size"])
    if type_name == "conv_transpose":
        kh, kw = pair(p["kernel_size"])
        sh, sw = pair(p["stride"])
        ph, pw = pair(p["padding"])
        oh, ow = pair(p["output_padding"])
        dh, dw = pair(p["dilation"])
        return (p["out_channels"], kh, kw, sh, sw, ph, pw, oh, ow, dh, dw, p["groups"],
                bool(p["bias"]))  # fmt: skip
    if type_name == "upsample":
        size = pair(p["size"]) if p["size"] is not None else None
        return (size, p["scale_factor"], p["mode"], bool(p["align_corners"]))
    if type_name == "layernorm2d":
        return (bool(p["elementwise_affine"]),)
    if type_name == "channel_slice":
        return (p["start"], p["stop"])
    if type_name == "channel_shuffle":
        return (p["groups"],)
    if type_name == "prelu":
        return (p["num_parameters"],)
    if type_name == "pad":
        return (p["left"], p["right"], p["top"], p["bottom"], p["mode"])
    return ()
