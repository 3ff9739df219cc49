"""Identifiers from user names (:mod:`.naming`) and PyTorch source code for a graph (:mod:`.emit`). No torch is imported here."""
