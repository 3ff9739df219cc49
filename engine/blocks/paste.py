"""Blocks in copy and paste: which records travel with copied nodes, and where they land.

:func:`blocks_of_part` keeps the records (and the design's own types) of the blocks all
of whose members are copied. :func:`plan_paste` gives pasted blocks fresh top-level paths
(``layer1.1`` → ``layer1_1``, then ``layer1_2``…), renames their members' ids after the
new path where free (so a pasted Bottleneck is still an instance of its type), moves
their scopes, and puts pasted nodes outside any copied block at the top level.
"""

from __future__ import annotations

import copy
import re

from engine.blocks.hierarchy import block_of, is_under, members, parent_block, records
from engine.core.graph import GraphModel

_TRAILING_NUMBER = re.compile(r"_?\d+$")


def blocks_of_part(model: GraphModel, nodes: list[str]) -> tuple[dict, dict]:
    """Records of the blocks wholly inside ``nodes``, and the design's own type documents."""
    chosen = set(nodes)
    keep = {}
    for path, rec in records(model).items():
        inside = members(model, path)
        if inside and set(inside) <= chosen:
            keep[path] = copy.deepcopy(rec)
    return keep, model.block_types()


def plan_paste(
    target: GraphModel, source: GraphModel, taken: set[str]
) -> tuple[dict[str, str], dict[str, str | None], dict[str, dict]]:
    """Ids, scopes and records for pasting ``source`` (with its blocks) into ``target``.

    Parameters
    ----------
    target : GraphModel
        The design receiving the paste.
    source : GraphModel
        The copied part, with its block records.
    taken : set of str
        Node ids already used (the target's); the chosen ids are added to it.

    Returns
    -------
    (dict, dict, dict)
        ``old id → new id`` for members of pasted blocks, ``old id → new scope`` for every
        source node, and ``new path → record`` of the pasted blocks (outermost first).
    """
    recs = records(source)
    tops = [p for p in recs if not parent_block(source, p)]
    used = set(records(target))
    for n in target.graph.nodes:
        s = target.graph.nodes[n].get("scope") or ""
        if s:
            used.add(s.split(".")[0])
    new_top: dict[str, str] = {}
    for p in tops:
        base = re.sub(r"[^0-9A-Za-z_]+", "_", p.replace(".", "_")) or "block"
        name, k = base, 1
        stem = _TRAILING_NUMBER.sub("", base) or base
        old_stem = p.replace(".", "_") + "_"
        locals_ = [n[len(old_stem) :] for n in members(source, p) if n.startswith(old_stem)]
        while name in used or any(f"{name}_{loc}" in taken for loc in locals_):
            k += 1
            name = f"{stem}_{k}"
        used.add(name)
        new_top[p] = name
    ids: dict[str, str] = {}
    scopes: dict[str, str | None] = {}
    for n in source.graph.nodes:
        b = block_of(source, n)
        top = next((p for p in tops if is_under(b, p)), None)
        if top is None:
            scopes[n] = None
            continue
        scope = source.graph.nodes[n].get("scope") or ""
        scopes[n] = new_top[top] + scope[len(top) :]
        stem = top.replace(".", "_") + "_"
        if n.startswith(stem):
            wanted = new_top[top].replace(".", "_") + "_" + n[len(stem) :]
            if wanted not in taken:
                ids[n] = wanted
                taken.add(wanted)
    out = {}
    for p, rec in recs.items():
        top = next(t for t in tops if is_under(p, t))
        rec = copy.deepcopy(rec)
        if p == top and rec.get("name") and rec["name"].isdigit():
            rec["name"] = new_top[top]
        rec.pop("pos", None)
        out[new_top[top] + p[len(top) :]] = rec
    return ids, scopes, out
