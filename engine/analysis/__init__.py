"""Analysis of a graph: shapes, parameters, MACs, memory and receptive fields (:mod:`.analyzer`), and the result records (:mod:`.results`)."""
