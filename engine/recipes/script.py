"""Export → Training script: a standalone ``train.py`` beside the exported model code.

The script holds the same data pipeline as the app (the ``shapes`` generator's own source,
:mod:`engine.recipes.shapes`; folder images loaded, resized and normalised with the same
steps as :func:`engine.runtime.images.preprocess`), the same loss (cross-entropy), optimiser
(AdamW, weight decay 5e-4) and schedule (:mod:`engine.recipes.schedule`'s source), and
writes weights in the same format (``.safetensors`` when the package is installed, else a
``.pt`` state dict) with the exported module's keys, so ConvCanvas loads them back.

It runs as ``python train.py DATA`` (one process: the app's exact batch order, so the same
seed, steps and thread count give the app's weights) and as
``torchrun --nproc_per_node N train.py DATA``: DistributedDataParallel with a
DistributedSampler, the gloo backend on CPU and nccl on GPUs; ``--batch`` is per process.

Only our own text goes into the script: the model's module and class names are checked
identifiers (:func:`engine.codegen.naming.class_name`), never user text.
"""

from __future__ import annotations

import inspect
import re

from engine.codegen.naming import class_name
from engine.core.graph import GraphLike
from engine.recipes import schedule, shapes
from engine.recipes.defaults import (
    DEFAULT_BATCH,
    DEFAULT_LR,
    HELD_OUT_START,
    SHAPES_HELD_OUT,
    SHAPES_TRAIN,
    WEIGHT_DECAY,
)

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _body(module) -> str:
    """A module's source without its docstring and ``from __future__`` line."""
    src = inspect.getsource(module)
    tree_doc = inspect.getdoc(module)
    if tree_doc is not None:
        end = src.index('"""', src.index('"""') + 3) + 3
        src = src[end:]
    # Module-level imports are the script's own (math, numpy, PIL at its top).
    lines = [ln for ln in src.splitlines() if not ln.startswith(("import ", "from "))]
    return "\n".join(lines).strip() + "\n"


def model_module_name(graph: GraphLike) -> str:
    """The exported model's module name (file ``NAME.py``), as Export names it."""
    name = class_name(str(getattr(graph, "name", "") or "")).lower() or "model"
    return name if _IDENT.fullmatch(name) else "model"


_TEMPLATE = '''"""Train {cls} (exported by ConvCanvas) as a classifier: the app's data, loss and schedule.

    python train.py shapes                       # the built-in shapes data, one process
    python train.py path/to/images --steps 3000  # one subfolder per class
    torchrun --nproc_per_node 4 train.py shapes  # DistributedDataParallel (gloo / nccl)

Writes the weights (-o, default weights.safetensors; .pt for a torch state dict) with the
keys of {cls}'s state_dict; ConvCanvas loads them (Run -> Load weights..., or
``main.py features --weights``). Needs torch, numpy and Pillow (safetensors optional).
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageOps

MODEL_FILE = {module!r}
MODEL_CLASS = {cls!r}
SHAPES_TRAIN = {shapes_train}
SHAPES_HELD_OUT = {shapes_held_out}
HELD_OUT_START = {held_out_start}
WEIGHT_DECAY = {weight_decay!r}
IMAGENET_MEAN = {mean!r}
IMAGENET_STD = {std!r}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


# ---------------------------------------------------------------- shapes (ConvCanvas's own generator)
{shapes_src}

# ---------------------------------------------------------------- schedule (as in ConvCanvas)
{schedule_src}

# ---------------------------------------------------------------- data
def load_model():
    path = Path(__file__).resolve().with_name(MODEL_FILE + ".py")
    spec = importlib.util.spec_from_file_location(MODEL_FILE, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, MODEL_CLASS)


def _gray(images):
    return np.stack([np.asarray(Image.fromarray(im, "RGB").convert("L")) for im in images])[..., None]


def _load_image(path, size, channels):
    """uint8 (H, W, K) as ConvCanvas loads and resizes it; None when unreadable."""
    h, w = size
    try:
        with Image.open(path) as im:
            im.load()
            ImageOps.exif_transpose(im, in_place=True)
            mode = im.mode
            if mode.startswith("I"):
                wide = np.asarray(im).astype(np.uint32)
                if wide.max() > 255:
                    wide = (wide.clip(0, 65535) * 255 + 32767) // 65535
                im = Image.fromarray(wide.astype(np.uint8), "L")
            elif mode in ("1", "L", "LA", "F"):
                im = im.convert("L")
            else:
                if mode == "P" and "transparency" in im.info:
                    im = im.convert("RGBA")
                im = im.convert("RGB")
            if channels == 1 and im.mode == "RGB":
                raise SystemExit(f"{{path}}: a colour image for a 1-channel input")
            im = im.resize((w, h), Image.Resampling.BILINEAR, box=(0, 0, im.width, im.height))
            arr = np.asarray(im, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError):
        return None
    return arr[:, :, None] if arr.ndim == 2 else arr


def load_data(spec, size, channels, seed, held_out, count, held_count):
    """(train_x, train_y, held_x, held_y, classes) exactly as ConvCanvas makes them."""
    if spec == "shapes":
        tx, ty, _ = shape_batch(seed, 0, count, size)
        hx, hy, _ = shape_batch(seed, HELD_OUT_START, held_count, size)
        if channels == 1:
            tx, hx = _gray(tx), _gray(hx)
        return tx, ty, hx, hy, CLASSES
    root = Path(spec)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise SystemExit(f"{{root}}: needs at least two class subfolders")
    images, labels, skipped = [], [], 0
    for label, name in enumerate(classes):
        files = sorted(f for f in (root / name).rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        kept = 0
        for f in files:
            arr = _load_image(f, size, channels)
            if arr is None:
                skipped += 1
                continue
            images.append(arr)
            labels.append(label)
            kept += 1
        if kept == 0:
            raise SystemExit(f"class {{name!r}} has no readable image")
    if any(im.shape[2] == 3 for im in images):
        images = [np.repeat(im, 3, axis=2) if im.shape[2] == 1 else im for im in images]
    x, y = np.stack(images), np.asarray(labels, np.int64)
    rng = np.random.default_rng(seed)
    held = np.zeros(len(y), bool)
    for c in range(len(classes)):
        idx = np.flatnonzero(y == c)
        n = len(idx)
        k = min(n - 1, max(1, round(held_out * n))) if n >= 2 and held_out > 0 else 0
        held[rng.permutation(idx)[:k]] = True
    train_idx = rng.permutation(np.flatnonzero(~held))
    held_idx = np.flatnonzero(held)
    if skipped:
        print(f"{{skipped}} unreadable image(s) skipped", file=sys.stderr)
    return x[train_idx], y[train_idx], x[held_idx], y[held_idx], tuple(classes)


def to_input(images, channels):
    """uint8 (B, H, W, K) -> the float input: /255, ImageNet mean/std, channels repeated."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().float()
    if channels == 1:
        mean = torch.tensor(sum(IMAGENET_MEAN) / 3).view(1, 1, 1, 1)
        std = torch.tensor(sum(IMAGENET_STD) / 3).view(1, 1, 1, 1)
    else:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1).contiguous()
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    x.div_(255).sub_(mean).div_(std)
    if channels not in (1, 3):
        x = x[:, torch.arange(channels) % 3].contiguous()
    return x


def batches(n, batch, rng):
    """The app's order: a fresh permutation per epoch, whole batches only."""
    batch = min(batch, n)
    while True:
        perm = rng.permutation(n)
        for i in range(0, n - batch + 1, batch):
            yield perm[i : i + batch]


def distributed_batches(n, batch, seed, rank, world):
    sampler = torch.utils.data.DistributedSampler(
        range(n), num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=True
    )
    epoch = 0
    while True:
        sampler.set_epoch(epoch)
        idx = np.fromiter(iter(sampler), dtype=np.int64)
        for i in range(0, len(idx) - batch + 1, batch):
            yield idx[i : i + batch]
        epoch += 1


def save(state, path, meta):
    state = {{k: v.detach().cpu().contiguous().clone() for k, v in state.items()}}
    if str(path).lower().endswith((".pt", ".pth")):
        torch.save(state, path)
        return
    try:
        from safetensors.torch import save_file
    except ImportError:
        path = Path(path).with_suffix(".pt")
        torch.save(state, path)
        print(f"safetensors is not installed: wrote {{path}}")
        return
    save_file(state, str(path), metadata=meta)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", help="'shapes' or a folder with one subfolder per class")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default={batch}, help="per process")
    p.add_argument("--lr", type=float, default={lr!r})
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--held-out", type=float, default=0.2)
    p.add_argument("--count", type=int, default=SHAPES_TRAIN, help="shapes training images")
    p.add_argument("--held-out-count", type=int, default=SHAPES_HELD_OUT)
    p.add_argument("--every-rank", action="store_true", help="every rank writes NAME.rankK too")
    p.add_argument("-o", "--output", default="weights.safetensors")
    args = p.parse_args(argv)
    if args.steps < 1 or args.batch < 1 or not (math.isfinite(args.lr) and args.lr > 0):
        raise SystemExit("--steps, --batch and --lr must be positive")

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    distributed = world > 1
    cuda = torch.cuda.is_available()
    if distributed:
        dist.init_process_group("nccl" if cuda else "gloo")
    device = torch.device(f"cuda:{{int(os.environ.get('LOCAL_RANK', '0'))}}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)

    Net = load_model()
    torch.manual_seed(args.seed)
    model = Net()
    channels, height, width = {input_shape!r}
    tx, ty, hx, hy, classes = load_data(
        args.data, (height, width), channels, args.seed, args.held_out, args.count, args.held_out_count
    )
    model = model.to(device)
    net = torch.nn.parallel.DistributedDataParallel(model) if distributed else model
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=WEIGHT_DECAY)
    order = (
        distributed_batches(len(ty), args.batch, args.seed, rank, world)
        if distributed
        else batches(len(ty), args.batch, np.random.default_rng(args.seed))
    )
    torch.manual_seed(args.seed)
    net.train()
    for step in range(args.steps):
        idx = next(order)
        x = to_input(tx[idx], channels).to(device)
        y = torch.from_numpy(ty[idx]).to(device)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args.steps, args.lr)
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if rank == 0 and ((step + 1) % max(1, args.steps // 10) == 0 or step + 1 == args.steps):
            print(f"step {{step + 1}}/{{args.steps}}  loss {{float(loss):.4f}}", flush=True)
    if distributed:
        # DDP keeps parameters equal; BatchNorm's running statistics were last updated on
        # each rank's own batch: average them, so every rank ends with the same weights.
        with torch.no_grad():
            for buf in model.buffers():
                if buf.is_floating_point():
                    dist.all_reduce(buf)
                    buf /= world
                else:
                    dist.broadcast(buf, 0)
    model.eval()
    meta = {{"format": "convcanvas.weights", "data": str(args.data), "steps": str(args.steps)}}
    if rank == 0 or args.every_rank:
        out = args.output if rank == 0 else str(Path(args.output).with_suffix(f".rank{{rank}}" + Path(args.output).suffix))
        save(model.state_dict(), out, meta)
    if rank == 0:
        right = 0
        with torch.no_grad():
            for i in range(0, len(hy), 256):
                out = model(to_input(hx[i : i + 256], channels).to(device))
                right += int((out.argmax(1).cpu().numpy() == hy[i : i + 256]).sum())
        acc = right / len(hy) if len(hy) else float("nan")
        print(f"weights written to {{args.output}}")
        print(f"held-out accuracy: {{acc:.3f}}")
    if distributed:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
'''


def training_script(graph: GraphLike, module: str | None = None) -> str:
    """The text of ``train.py`` for ``graph``, importing the exported model from ``MODULE.py``.

    Parameters
    ----------
    graph : GraphModel
        A valid design with one input node.
    module : str, optional
        The exported model's module name (default :func:`model_module_name`); must be an
        identifier.
    """
    from engine.analysis.analyzer import analyze
    from engine.recipes.defaults import IMAGENET_MEAN, IMAGENET_STD

    module = module or model_module_name(graph)
    if not _IDENT.fullmatch(module):
        raise ValueError(f"the model's module name must be an identifier, got {module!r}")
    cls = class_name(str(getattr(graph, "name", "") or ""))
    a = analyze(graph)
    inputs = [n for n in a.order if a.graph.nodes[n]["type"] == "input"]
    if len(inputs) != 1:
        raise ValueError("the training script needs exactly one input node")
    c, h, w = (int(v) for v in a.nodes[inputs[0]].shape)
    return _TEMPLATE.format(
        cls=cls,
        module=module,
        shapes_train=SHAPES_TRAIN,
        shapes_held_out=SHAPES_HELD_OUT,
        held_out_start=HELD_OUT_START,
        weight_decay=WEIGHT_DECAY,
        mean=tuple(IMAGENET_MEAN),
        std=tuple(IMAGENET_STD),
        shapes_src=_body(shapes),
        schedule_src=_body(schedule),
        batch=DEFAULT_BATCH,
        lr=DEFAULT_LR,
        input_shape=(c, h, w),
    )
