"""Training a design: built-in ``shapes`` data and image folders, the loop, the export script.

``data`` needs only numpy and Pillow; ``loop`` and ``localise`` import torch (this package
is one of the torch-using ones, like :mod:`engine.runtime`).
"""
