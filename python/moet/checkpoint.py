"""moet's run checkpoints (src/train/checkpoint.cpp), read and written here so a model trained
by moet continues in PyTorch and back.

A run directory holds `latest` (the name of the current checkpoint directory, ckpt-<9-digit
step>) and that directory: model.safetensors (every tensor by moet's name, F32; metadata format
"moet-checkpoint-1", step, config (the run's TOML), parameterization (the resolved table, JSON)),
optimizer.safetensors (<name>.m for every tensor: Adam's first moment or SGD's momentum buffer;
<name>.v for Adam's second moment; metadata format, optimizer_steps) and state.json (the data
loader's state and the trainer's running totals). Checkpoints are written under a temporary name
and renamed into place, then `latest` is replaced atomically."""
import json
import os
import shutil
from dataclasses import dataclass, field

import torch

from . import safetensors
from .apply import apply, model_tensors
from .config import parse_config
from .errors import MoetError
from .table import table_from_json

FORMAT = "moet-checkpoint-1"
# What moet requires in state.json (src/train/checkpoint_fields.cpp and trainer.cpp).
STATE_KEYS = ("first_loss", "smoothed_loss", "interval_loss", "interval_steps", "train_loss",
              "val_loss", "tokens_per_s", "final", "train_loader")


@dataclass
class Checkpoint:
    step: int
    config_toml: str
    parameterization: dict  # the table as JSON
    params: dict = field(default_factory=dict)  # name -> tensor
    first_moment: dict = field(default_factory=dict)
    second_moment: dict = None  # None for SGD
    optimizer_steps: int = 0
    state: dict = field(default_factory=dict)
    path: str = ""

    @property
    def config(self):
        return parse_config(self.config_toml, f"{self.path}/model.safetensors: config")

    @property
    def table(self):
        return table_from_json(self.parameterization,
                               f"{self.path}/model.safetensors: parameterization")


def checkpoint_name(step):
    return f"ckpt-{step:09d}"


def latest_checkpoint_dir(run_dir):
    pointer = os.path.join(run_dir, "latest")
    try:
        with open(pointer, encoding="utf-8") as f:
            name = f.read().strip()
    except OSError:
        raise MoetError(f"{run_dir}: no checkpoint (missing {pointer})") from None
    if not name or "/" in name:
        raise MoetError(f"{pointer}: corrupt checkpoint pointer")
    return os.path.join(run_dir, name)


def _meta(metadata, key, path):
    if key not in metadata:
        raise MoetError(f"{path}: metadata has no '{key}'")
    return metadata[key]


def _meta_int(metadata, key, path):
    text = _meta(metadata, key, path)
    if not text.isdigit():
        raise MoetError(f"{path}: field {key}: expected an integer >= 0, got {text!r}")
    return int(text)


def read_checkpoint_metadata(ckpt_dir, metadata=None):
    """The checkpoint's step, config and table (no tensors kept)."""
    path = os.path.join(ckpt_dir, "model.safetensors")
    if metadata is None:
        metadata = safetensors.read(path)[1]
    if _meta(metadata, "format", path) != FORMAT:
        raise MoetError(f"{path}: format {metadata['format']!r}, expected '{FORMAT}'")
    try:
        table = json.loads(_meta(metadata, "parameterization", path))
    except json.JSONDecodeError as e:
        raise MoetError(f"{path}: field parameterization: not valid JSON ({e.msg})") from None
    c = Checkpoint(step=_meta_int(metadata, "step", path),
                   config_toml=_meta(metadata, "config", path), parameterization=table,
                   path=ckpt_dir)
    c.table  # checked now, so a bad table is reported against the checkpoint
    return c


def read_checkpoint(run_dir):
    """The latest checkpoint of a moet run directory (or a ckpt-* directory itself)."""
    ckpt_dir = run_dir if os.path.exists(os.path.join(run_dir, "model.safetensors")) \
        else latest_checkpoint_dir(run_dir)
    model_path = os.path.join(ckpt_dir, "model.safetensors")
    params, metadata = safetensors.read(model_path)
    c = read_checkpoint_metadata(ckpt_dir, metadata)
    c.params = params
    opt_path = os.path.join(ckpt_dir, "optimizer.safetensors")
    moments, opt_meta = safetensors.read(opt_path)
    if _meta(opt_meta, "format", opt_path) != FORMAT:
        raise MoetError(f"{opt_path}: format {opt_meta['format']!r}, expected '{FORMAT}'")
    c.optimizer_steps = _meta_int(opt_meta, "optimizer_steps", opt_path)
    for name in params:
        if name + ".m" not in moments:
            raise MoetError(f"{opt_path}: missing tensor {name}.m (checkpoint of a different "
                            "model?)")
    c.first_moment = {n: moments[n + ".m"] for n in params}
    if any(n.endswith(".v") for n in moments):
        for name in params:
            if name + ".v" not in moments:
                raise MoetError(f"{opt_path}: missing tensor {name}.v")
        c.second_moment = {n: moments[n + ".v"] for n in params}
    expected = len(params) * (2 if c.second_moment is not None else 1)
    if len(moments) != expected:
        raise MoetError(f"{opt_path}: {len(moments)} tensors where the model has {len(params)} "
                        f"({expected} moments)")
    state_path = os.path.join(ckpt_dir, "state.json")
    try:
        with open(state_path, encoding="utf-8") as f:
            c.state = json.load(f)
    except OSError as e:
        raise MoetError(f"{state_path}: cannot read ({e.strerror})") from None
    except json.JSONDecodeError as e:
        raise MoetError(f"{state_path}: not valid JSON ({e.msg})") from None
    return c


@torch.no_grad()
def load_params(model, params, source="checkpoint"):
    """Copies {name: tensor} into the model's tensors of the same names (one line for a missing,
    extra or differently shaped tensor)."""
    tensors = model_tensors(model)
    for name, t in tensors.items():
        if name not in params:
            raise MoetError(f"{source}: missing tensor {name} (checkpoint of a different model?)")
        if tuple(params[name].shape) != tuple(t.shape):
            raise MoetError(f"{source}: tensor {name} has shape {list(params[name].shape)}, the "
                            f"model has {list(t.shape)}")
    for name in params:
        if name not in tensors:
            raise MoetError(f"{source}: tensor {name} is not in the model")
    for name, t in tensors.items():
        t.copy_(params[name])


def load_model(run_dir, model=None, device="cpu", dtype=torch.float32):
    """(model, groups, checkpoint) from a moet run: the model (a MoETransformer built from the
    checkpoint's config unless one is given) with the checkpoint's tensors, the stored table's
    multipliers and block scalars, and optimizer groups with the stored LRs (apply(init=False))."""
    from .model import MoETransformer
    c = read_checkpoint(run_dir)
    if model is None:
        model = MoETransformer(c.config.model)
    model.to(device=device, dtype=dtype)
    load_params(model, c.params, f"{c.path}/model.safetensors")
    groups = apply(model, c.table, init=False)
    return model, groups, c


@torch.no_grad()
def load_optimizer_state(optimizer, checkpoint):
    """Puts a moet checkpoint's moments and step count into a torch Adam/AdamW/SGD optimizer
    whose groups came from apply (each group has one tensor and its "name")."""
    for group in optimizer.param_groups:
        (p,) = group["params"]
        name = group["name"]
        m = checkpoint.first_moment[name].to(p)
        if isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW)):
            if checkpoint.second_moment is None:
                raise MoetError(f"{checkpoint.path}: an SGD checkpoint (no second moments) for "
                                f"{type(optimizer).__name__}")
            optimizer.state[p] = {"step": torch.tensor(float(checkpoint.optimizer_steps)),
                                  "exp_avg": m.clone(),
                                  "exp_avg_sq": checkpoint.second_moment[name].to(p).clone()}
        elif isinstance(optimizer, torch.optim.SGD):
            if group["momentum"] > 0 and checkpoint.optimizer_steps > 0:
                optimizer.state[p] = {"momentum_buffer": m.clone()}
        else:
            raise MoetError(f"{type(optimizer).__name__}: only Adam, AdamW and SGD states map to "
                            "moet's")


def optimizer_moments(model, optimizer):
    """(first, second or None) in moet's terms from a torch optimizer over apply's groups: Adam's
    moments, or SGD's momentum buffer and no second; tensors without state (the balancing bias,
    or any before the first step) get zeros."""
    adam = isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW))
    first, second = {}, ({} if adam else None)
    for name, t in model_tensors(model).items():
        s = optimizer.state.get(t, {})
        if adam:
            first[name] = s.get("exp_avg", torch.zeros_like(t))
            second[name] = s.get("exp_avg_sq", torch.zeros_like(t))
        else:
            first[name] = s.get("momentum_buffer", torch.zeros_like(t))
    return first, second


def _finite(value):
    """JSON has no NaN: moet writes null for a number it does not have."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(run_dir, step, model, config_toml, parameterization, first_moment,
                    second_moment, optimizer_steps, state):
    """Writes ckpt-<step> the way moet does (whole under a temporary name, then renamed, then
    `latest` replaced) and removes the previous checkpoint. `state` must hold STATE_KEYS for moet
    to resume from it."""
    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise MoetError(f"checkpoint state: field {missing[0]}: missing")
    name = checkpoint_name(step)
    final_dir = os.path.join(run_dir, name)
    tmp = f"{final_dir}.tmp.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    tensors = model_tensors(model)
    p_text = json.dumps(parameterization, sort_keys=True, separators=(",", ":"),
                        ensure_ascii=False)
    safetensors.write(os.path.join(tmp, "model.safetensors"), tensors,
                      {"format": FORMAT, "step": str(step), "config": config_toml,
                       "parameterization": p_text})
    moments = {n + ".m": first_moment[n] for n in tensors}
    if second_moment is not None:
        moments.update({n + ".v": second_moment[n] for n in tensors})
    safetensors.write(os.path.join(tmp, "optimizer.safetensors"), moments,
                      {"format": FORMAT, "optimizer_steps": str(optimizer_steps)})
    safetensors.write_atomic(os.path.join(tmp, "state.json"),
                             json.dumps(_finite(state), indent=1, sort_keys=True).encode())
    _fsync_dir(tmp)
    shutil.rmtree(final_dir, ignore_errors=True)
    os.rename(tmp, final_dir)
    _fsync_dir(run_dir)
    safetensors.write_atomic(os.path.join(run_dir, "latest"), (name + "\n").encode())
    _fsync_dir(run_dir)
    for entry in os.listdir(run_dir):
        path = os.path.join(run_dir, entry)
        if entry.startswith("ckpt-") and entry != name and ".tmp." not in entry \
                and os.path.isdir(path):
            shutil.rmtree(path)
