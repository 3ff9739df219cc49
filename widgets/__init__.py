"""Panels around the canvas: palette, inspector, totals bar, layer table, feature views."""
