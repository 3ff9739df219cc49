"""The node editor: canvas, items, undo commands and the Qt adapter over the engine."""
