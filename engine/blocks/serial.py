"""Blocks and block types in the file format (version 2; see ``docs/format.md``).

:func:`write_blocks` gives the ``blocks`` and ``block_types`` fields of a document and
:func:`read_blocks` checks them and puts them on a freshly loaded model. Everything read
is refused with a :class:`~engine.core.errors.FormatError` naming the block; nothing from
the file is executed (type expressions are checked and walked by :mod:`engine.blocks.expr`).
"""

from __future__ import annotations

import re
from typing import Any

from engine.blocks.hierarchy import block_of, check_blocks, is_under, records, user_type_docs
from engine.blocks.types import MAX_BLOCK_DEPTH, BlockError, type_from_dict, type_to_dict
from engine.core.errors import FormatError, ParamError
from engine.core.graph import GraphModel, check_pos


def _num(v: float) -> float | int:
    return int(v) if float(v).is_integer() else round(float(v), 3)


_RECORD_FIELDS = {"path", "name", "type", "params", "collapsed", "pos", "class"}
_CLASS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}\Z")


def write_blocks(model: GraphModel) -> dict:
    """The ``blocks`` (in path order as stored) and ``block_types`` fields for ``model``."""
    blocks = []
    held = {block_of(model, n) for n in model.graph.nodes}
    for path, rec in records(model).items():
        if not any(is_under(h, path) for h in held):
            continue  # its members were deleted: an empty block is not written
        entry: dict[str, Any] = {"path": path, "name": rec.get("name") or path}
        if rec.get("type") is not None:
            entry["type"] = rec["type"]
            entry["params"] = dict(rec.get("params", {}))
        entry["collapsed"] = bool(rec.get("collapsed", False))
        if rec.get("pos") is not None:
            entry["pos"] = [_num(v) for v in rec["pos"]]
        if rec.get("class"):
            entry["class"] = rec["class"]
        blocks.append(entry)
    types = [type_to_dict(type_from_dict(d)) for d in user_type_docs(model).values()]
    out: dict[str, Any] = {"blocks": blocks}
    if types:
        out["block_types"] = types
    return out


def read_blocks(model: GraphModel, blocks: Any, types: Any) -> None:
    """Check the ``blocks`` and ``block_types`` of a document and add them to ``model``.

    Raises
    ------
    FormatError
        Naming the block or type: a malformed entry, a path used twice, a cycle of
        types, a block without members, an unknown type or ports that do not match.
    """
    if not isinstance(types, list):
        raise FormatError("'block_types' must be a list", None, "block_types")
    docs: dict[str, dict] = {}
    for i, d in enumerate(types):
        try:
            bt = type_from_dict(d)
        except BlockError as exc:
            raise FormatError(f"block_types[{i}]: {exc.message}", None, "block_types") from None
        if bt.key in docs:
            raise FormatError(f"block type '{bt.key}' is defined twice", None, "block_types")
        docs[bt.key] = type_to_dict(bt)
    if not isinstance(blocks, list):
        raise FormatError("'blocks' must be a list", None, "blocks")
    recs: dict[str, dict] = {}
    for i, b in enumerate(blocks):
        where = f"blocks[{i}]"
        if not isinstance(b, dict):
            raise FormatError(f"{where} must be an object", None, "blocks")
        path = b.get("path")
        if not isinstance(path, str) or not path:
            raise FormatError(f"{where}: 'path' must be a dotted name", None, "blocks")
        where = f"block '{path}'"
        if path.count(".") >= MAX_BLOCK_DEPTH:
            raise FormatError(
                f"{where[:80]}…: blocks nest {path.count('.') + 1} levels deep; at most "
                f"{MAX_BLOCK_DEPTH} are allowed",
                None,
                "blocks",
            )
        extra = set(b) - _RECORD_FIELDS
        if extra:
            raise FormatError(
                f"{where}: unknown field(s) {', '.join(sorted(extra))}", None, "blocks"
            )
        if path in recs:
            raise FormatError(f"{where} appears twice", None, "blocks")
        name, key, params = b.get("name", path), b.get("type"), b.get("params", {})
        collapsed = b.get("collapsed", False)
        if not isinstance(name, str):
            raise FormatError(f"{where}: 'name' must be text", None, "blocks")
        if key is not None and not isinstance(key, str):
            raise FormatError(f"{where}: 'type' must be a block-type key", None, "blocks")
        if not isinstance(params, dict) or not all(
            isinstance(v, (int, bool)) and abs(int(v)) <= 2**31 for v in params.values()
        ):
            raise FormatError(f"{where}: 'params' must map names to whole numbers", None, "blocks")
        if not isinstance(collapsed, bool):
            raise FormatError(f"{where}: 'collapsed' must be true or false", None, "blocks")
        pos = b.get("pos")
        if pos is not None:
            try:
                pos = list(check_pos(path, pos))
            except ParamError:
                raise FormatError(
                    f"{where}: 'pos' must be [x, y] numbers", None, "blocks"
                ) from None
        cls = b.get("class")
        if cls is not None and not (isinstance(cls, str) and _CLASS_NAME.match(cls)):
            raise FormatError(
                f"{where}: 'class' must be a class name (an identifier)", None, "blocks"
            )
        recs[path] = {"name": name, "type": key, "params": dict(params), "collapsed": collapsed}
        if cls is not None:
            recs[path]["class"] = cls
        if pos is not None:
            recs[path]["pos"] = pos
    if docs:
        model.set_block_types({**user_type_docs(model), **docs})
    for path, rec in recs.items():
        model.set_block(path, rec)
    try:
        check_blocks(model)
    except BlockError as exc:
        raise FormatError(exc.message, None, "blocks") from None
