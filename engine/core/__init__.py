"""The graph model, its typed errors, the JSON file format and the layered layout."""
