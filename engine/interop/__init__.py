"""Importing PyTorch models: a CNN ``nn.Module`` traced with torch.fx into a design.

:func:`~engine.interop.source.load_source` finds and calls the user's model,
:func:`~engine.interop.convert.import_module` traces it into a :class:`GraphModel` plus a
``state_dict`` keyed as the design's exported module, and
:func:`engine.runtime.weights.save_state` writes that state dict as ``.safetensors`` or ``.pt``.
Torch is imported here (this package is not one of the torch-free ones).
"""
