"""Training described without torch: what the window, the command line and the export share.

:mod:`~engine.recipes.shapes` (the built-in shapes data, numpy and Pillow),
:mod:`~engine.recipes.schedule` (the learning-rate schedule), :mod:`~engine.recipes.defaults`
(batch, learning rate, data sizes) and :mod:`~engine.recipes.script` (the exported
``train.py``). The torch side (the loop, the worker's job, fine-tuning) is
:mod:`engine.training`, which the editor and the panels never import.
"""
