"""Importing ONNX files into designs, without torch.

:func:`~engine.onnx.reader.read_model` parses a file with the ``onnx`` package and reads
its tensors after checking every declared size and external-data reference;
:func:`~engine.onnx.convert.import_onnx` maps the graph to the design's node types, with
the weights as numpy arrays under the design's module targets. Nothing in a file is run.
"""
