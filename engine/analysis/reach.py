"""Which nodes feed the network's output, and what the others add to the totals.

A node whose output never reaches the output node (a branch left unwired, a head cut
off) still counts in the totals: :func:`not_reaching_output` finds such nodes and
:func:`contribution` says how much of the totals they make.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.analysis.analyzer import Analysis


@dataclass(frozen=True)
class Contribution:
    """What a set of nodes adds to the totals."""

    nodes: int
    params: int
    weights: int
    macs: int


def not_reaching_output(analysis: Analysis) -> list[str]:
    """The nodes whose output does not reach the network's output, in analysis order.

    The output is :attr:`Totals.output` (the last node without consumers that has a
    shape); with no output yet, no node is reported.

    Parameters
    ----------
    analysis : Analysis

    Returns
    -------
    list of str
    """
    out = analysis.totals.output
    if out is None:
        return []
    inputs = analysis.inputs
    reached = {out}
    stack = [out]
    while stack:
        for u in inputs.get(stack.pop(), ()):
            if u not in reached:
                reached.add(u)
                stack.append(u)
    if len(reached) == len(analysis.order):
        return []
    return [n for n in analysis.order if n not in reached]


def contribution(analysis: Analysis, nodes: list[str]) -> Contribution:
    """What ``nodes`` add to the totals: only those with a shape count (a node in error
    adds nothing, and its error already marks it).

    Parameters
    ----------
    analysis : Analysis
    nodes : list of str

    Returns
    -------
    Contribution
    """
    params = weights = macs = counted = 0
    for n in nodes:
        r = analysis.nodes.get(n)
        if r is not None and r.shape is not None:
            counted += 1
            params += r.params
            weights += r.weights
            macs += r.macs
    return Contribution(counted, params, weights, macs)
