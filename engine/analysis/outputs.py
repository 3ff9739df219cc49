"""What an imported graph returns, against what a design returns: exactly its last layers."""

from __future__ import annotations

from engine.core.graph import GraphModel


def outputs_problem(model: GraphModel, out_ids: list[str], source: str) -> str | None:
    """Why the values ``out_ids`` that ``source`` returns are not the design's sinks.

    Parameters
    ----------
    model : GraphModel
        The imported design.
    out_ids : list of str
        The design nodes holding the returned values, in order.
    source : str
        What returns them, as the message names it (``"the model"``, ``"the file"``).

    Returns
    -------
    str or None
        The message, or ``None`` when the outputs are the sinks, each once.
    """
    g = model.graph
    sinks = [v for v in model.nodes if not g.out_degree(v)]
    if len(set(out_ids)) == len(out_ids) and set(out_ids) == set(sinks):
        return None
    extra = [v for v in out_ids if g.out_degree(v)]
    return (
        f"{source} returns "
        + (f"'{extra[0]}', which also feeds other layers" if extra else "the same value twice")
        + ": a design returns exactly its last layers (the nodes nothing else reads)"
    )
