"""Node types: their parameters (:mod:`.specs`, checked by :mod:`.params`), their shape,
cost and receptive-field rules (:mod:`.rules`) and their short texts (:mod:`.text`)."""

from engine.nodes.params import check_param, compile_params, normalize_params, pair
from engine.nodes.rules import INFER_MERGE, INFER_ONE, RECEPTIVE_MERGE, RECEPTIVE_ONE
from engine.nodes.specs import (
    CATEGORIES,
    INPUT_RF,
    NODE_TYPES,
    RF,
    NodeType,
    ParamSpec,
    Problem,
    Shape,
)
from engine.nodes.text import fmt_shape, summary_text

__all__ = [
    "CATEGORIES",
    "INPUT_RF",
    "NODE_TYPES",
    "RF",
    "NodeType",
    "ParamSpec",
    "Problem",
    "Shape",
    "check_param",
    "compile_params",
    "normalize_params",
    "pair",
    "INFER_MERGE",
    "INFER_ONE",
    "RECEPTIVE_MERGE",
    "RECEPTIVE_ONE",
    "fmt_shape",
    "summary_text",
]
