"""The inference worker: the client the window uses (:mod:`.client`), the loop in the spawned process (:mod:`.process`) and what travels between them (:mod:`.messages`)."""
