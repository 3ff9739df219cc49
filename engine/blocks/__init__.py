"""Blocks: reusable sub-networks (Inception, Bottleneck, …) and the hierarchy of a design.

No Qt and no torch. :mod:`engine.blocks.types` defines block types with named parameters
and instantiates them, :mod:`engine.blocks.library` holds the built-in ones,
:mod:`engine.blocks.hierarchy` reads a design's blocks (members, boundaries, per-block
totals, validation) and :mod:`engine.blocks.expr` is the small expression language of
type parameters.
"""

from engine.blocks.hierarchy import (
    BlockTotals,
    Boundary,
    add_instance,
    all_types,
    block_of,
    block_summary,
    block_totals,
    blocks_from_scopes,
    boundary,
    check_blocks,
    child_blocks,
    enclosing_block,
    members,
    parent_block,
    records,
    user_type_docs,
)
from engine.blocks.library import BUILTIN_TYPES
from engine.blocks.types import (
    BlockError,
    BlockType,
    Instance,
    instantiate,
    node_id,
    type_from_dict,
    type_to_dict,
)

__all__ = [
    "BUILTIN_TYPES",
    "BlockError",
    "BlockTotals",
    "BlockType",
    "Boundary",
    "Instance",
    "add_instance",
    "all_types",
    "block_of",
    "block_summary",
    "block_totals",
    "blocks_from_scopes",
    "boundary",
    "check_blocks",
    "child_blocks",
    "enclosing_block",
    "instantiate",
    "members",
    "node_id",
    "parent_block",
    "records",
    "type_from_dict",
    "type_to_dict",
    "user_type_docs",
]
