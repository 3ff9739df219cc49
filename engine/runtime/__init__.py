"""The torch runtime: the live model (:mod:`.build`), state-dict files (:mod:`.weights`), image loading (:mod:`.images`) and feature capture (:mod:`.features`).

Importing this package imports no torch; :mod:`.build`, :mod:`.weights` and :mod:`.features` do.
"""
