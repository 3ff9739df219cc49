"""The training job of the worker process: train, load or save weights off the UI thread.

:class:`TrainJob` is a job for :class:`engine.worker.client.WorkerClient`
(``WorkerClient(job="engine.training.job:TrainJob")``). A request's ``options["action"]``
says what to do:

* ``"train"``: ``options["config"]`` (the fields of
  :class:`~engine.training.loop.TrainConfig`) and optionally ``options["state"]`` (start
  weights) or ``options["init_path"]`` (a weights file to fine-tune from,
  :func:`engine.training.init.initial_state`). Progress messages carry JSON text: ``{"step", "total", "loss", "acc",
  "elapsed", "held_out"?}`` batched as ``{"points": [...]}``; the worker's own
  ``layer N of M`` messages are plain text and can be ignored. The result is a
  :class:`~engine.training.loop.TrainResult`.
* ``"load"``: ``options["path"]``: read a ``.safetensors`` / ``.pt`` file, check it against
  the graph (:func:`engine.runtime.weights.check_state_dict`: old flat names migrated,
  mismatches counted and listed) and return :class:`WeightsReply` with the tensors as
  numpy arrays under the model's keys.
* ``"save"``: ``options["path"]``, ``options["state"]`` and ``options["meta"]``: write them.

Cancelling (:meth:`WorkerClient.cancel`) stops training at the next step.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field


@dataclass
class WeightsReply:
    """A loaded or saved weights file: its tensors (numpy) and metadata."""

    path: str
    state: dict
    meta: dict
    maps: dict = field(default_factory=dict)  # always empty (the worker loop looks for maps)
    notes: list = field(default_factory=list)  # e.g. "migrated from flat names" (one line each)


class TrainJob:
    """Runs training, weight loading and saving in the worker process."""

    SEND_EVERY = 0.1  # seconds between progress messages

    def __init__(self) -> None:
        import torch  # noqa: F401  (loaded before the first request)

    def run(self, request: dict, progress):
        """Do what ``request["options"]["action"]`` asks; ``progress`` may raise ``Aborted``."""
        from engine.core.fileformat import from_dict

        opts = request.get("options", {})
        action = opts.get("action", "train")
        model = from_dict(request["graph"])
        if action == "load":
            return self._load(model, opts["path"])
        if action == "save":
            from engine.runtime.weights import save_state

            save_state(opts["state"], opts["path"], metadata=opts.get("meta") or None)
            return WeightsReply(opts["path"], {}, dict(opts.get("meta") or {}))
        return self._train(model, opts, progress)

    def _load(self, model, path: str) -> WeightsReply:
        from engine.core.filesafety import limit_for
        from engine.runtime.build import build_module
        from engine.runtime.weights import (
            check_state_dict,
            legacy_keys,
            read_metadata,
            read_state_dict,
        )
        from engine.weights.fit import migrate_state

        module = build_module(model, seed=0)
        state = read_state_dict(
            path, limit_for(sum(t.numel() for t in module.state_dict().values()))
        )
        fit = check_state_dict(module, state, path, legacy_keys(model))
        state = migrate_state(state, fit)
        own = module.state_dict()
        arrays = {k: v.detach().cpu().numpy().copy() for k, v in state.items() if k in own}
        return WeightsReply(path, arrays, read_metadata(path), notes=list(fit.notes))

    def _train(self, model, opts: dict, progress):
        from engine.training.loop import TrainConfig, train

        config = TrainConfig(**opts.get("config", {}))
        pending: list = []
        last = [0.0]

        def report(info: dict) -> None:
            pending.append(info)
            now = time.perf_counter()
            if now - last[0] >= self.SEND_EVERY or info["step"] == info["total"]:
                last[0] = now
                pct = int(100 * info["step"] / max(1, info["total"]))
                text = json.dumps({"points": pending})
                pending.clear()
                progress(pct, text)

        init, notes = opts.get("state"), []
        if opts.get("init_path"):
            from engine.training.init import initial_state

            init, notes = initial_state(model, opts["init_path"])
        phase = "preparing the data"
        if notes:  # the fine-tuning notes stay readable while the data are prepared
            phase = " ".join(f"{n}." for n in notes) + " Preparing the data"
        progress(0, json.dumps({"points": [], "phase": phase}))
        result = train(model, config, progress=report, init_state=init)
        if config.data == "shapes" and opts.get("localise", True):
            phase = f"measuring localisation on {LOCALISE_IMAGES} held-out images"
            progress(100, json.dumps({"points": [], "phase": phase}))
            result.localisation = localisation_table(
                model, result.state, config.seed, init_state=init
            )
        return result


#: Held-out shapes images of the localisation table after training.
LOCALISE_IMAGES = 40


def localisation_table(
    model, state: dict, seed: int = 0, images: int = LOCALISE_IMAGES, init_state=None
) -> dict:
    """Every localisation method on held-out shapes images, before and after training.

    Returns
    -------
    dict
        ``{"images": N, "random": report, "trained": report}`` with reports of
        :func:`engine.runtime.localise.evaluate` (``random``: the weights training started
        from), or ``{"error": text}`` when the design cannot be measured (no spatial layer,
        an input smaller than 16×16).
    """
    import torch

    from engine.core.errors import EngineError
    from engine.runtime.features import FeatureRunner
    from engine.runtime.localise import evaluate, shapes_samples, spatial_nodes
    from engine.runtime.weights import apply_partial

    try:
        runner = FeatureRunner(model, seed=seed)
        if not spatial_nodes(runner.analysis):
            return {"error": "the design has no spatial layer"}
        if min(runner.size) < 16:
            return {"error": "the input is smaller than the 16×16 shapes"}
        samples = list(shapes_samples(runner.size, images, seed))
        if init_state:
            apply_partial(runner.module, init_state)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # one small image at a time: one thread is fastest
        try:
            before = evaluate(runner, samples)
            apply_partial(runner.module, state)
            after = evaluate(runner, samples)
        finally:
            torch.set_num_threads(threads)
    except (EngineError, ValueError) as exc:
        return {"error": str(exc)}
    return {"images": images, "random": before, "trained": after}
