"""A resolved parameterization table: what `moet params --json` prints, what a run writes as
parameterization.json and what every moet checkpoint stores in its metadata (format
"moet.parameterization/1", src/param/json.cpp). Per tensor: init (normal/zero/one), init std,
whether all experts start from one draw, forward multiplier, LR, Adam epsilon and weight decay;
per model: the block scalars (residual, attention-logit, aggregation and readout multipliers)."""
import json
import os
from dataclasses import dataclass

from .errors import MoetError

FORMAT = "moet.parameterization/1"
AXES = ("N", "Ne", "M", "K", "L")
BLOCK_KEYS = ("residual_mult", "attn_logit_scale", "aggregation_mult", "readout_mult")


@dataclass
class TensorRow:
    name: str
    role: str
    shape: tuple
    init: str  # normal | zero | one
    init_std: float
    tied: bool  # every expert starts from the same draw
    multiplier: float
    lr: float
    eps: float
    wd: float


@dataclass
class Table:
    preset: str
    optimizer: str
    base: dict
    target: dict
    globals: dict
    block: dict
    tensors: list  # [TensorRow] in moet's layout order
    raw: dict  # the JSON as read, for writing back unchanged
    source: str = ""

    def row(self, name):
        for t in self.tensors:
            if t.name == name:
                return t
        return None

    def by_name(self):
        return {t.name: t for t in self.tensors}


def _field(obj, key, kind, where):
    if not isinstance(obj, dict) or key not in obj:
        raise MoetError(f"{where}{key}: missing")
    value = obj[key]
    ok = {
        "str": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "num": isinstance(value, (int, float)) and not isinstance(value, bool),
        "obj": isinstance(value, dict),
        "list": isinstance(value, list),
    }[kind]
    if not ok:
        raise MoetError(f"{where}{key}: wrong type ({type(value).__name__}, expected {kind})")
    return float(value) if kind == "num" else value


def table_from_json(doc, source="parameterization"):
    """A Table from the parsed JSON; every missing or mistyped field is one line naming it."""
    w = f"{source}: "
    fmt = _field(doc, "format", "str", w)
    if fmt != FORMAT:
        raise MoetError(f"{w}format: expected '{FORMAT}', got '{fmt}'")
    axes = {}
    for part in ("base", "target"):
        obj = _field(doc, part, "obj", w)
        axes[part] = {a: _field(obj, a, "int", f"{w}{part}.") for a in AXES}
    g = _field(doc, "globals", "obj", w)
    globals_ = {k: _field(g, k, "num", f"{w}globals.")
                for k in ("init_std", "lr", "eps", "wd", "bias_lr")}
    b = _field(doc, "block", "obj", w)
    block = {k: _field(b, k, "num", f"{w}block.") for k in BLOCK_KEYS}
    if not block["attn_logit_scale"] > 0:
        raise MoetError(f"{w}block.attn_logit_scale: must be positive "
                        f"(got {block['attn_logit_scale']})")
    rows, seen = [], set()
    for i, t in enumerate(_field(doc, "tensors", "list", w)):
        tw = f"{w}tensors[{i}]."
        name = _field(t, "name", "str", tw)
        shape = _field(t, "shape", "list", tw)
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise MoetError(f"{tw}shape: expected a list of non-negative integers, got {shape}")
        init = _field(t, "init", "str", tw)
        if init not in ("normal", "zero", "one"):
            raise MoetError(f"{tw}init: '{init}' is not one of normal|zero|one")
        row = TensorRow(name=name, role=_field(t, "role", "str", tw), shape=tuple(shape),
                        init=init, init_std=_field(t, "init_std", "num", tw),
                        tied=_field(t, "tied", "bool", tw),
                        multiplier=_field(t, "multiplier", "num", tw),
                        lr=_field(t, "lr", "num", tw), eps=_field(t, "eps", "num", tw),
                        wd=_field(t, "wd", "num", tw))
        if row.init == "normal" and not row.init_std >= 0:
            raise MoetError(f"{tw}init_std: must be >= 0 (got {row.init_std})")
        if name in seen:
            raise MoetError(f"{tw}name: tensor {name} appears twice")
        seen.add(name)
        rows.append(row)
    return Table(preset=_field(doc, "preset", "str", w),
                 optimizer=_field(doc, "optimizer", "str", w), base=axes["base"],
                 target=axes["target"], globals=globals_, block=block, tensors=rows, raw=doc,
                 source=source)


def parse_table(text, source="parameterization"):
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise MoetError(f"{source}: not valid JSON ({e.msg} at line {e.lineno})") from None
    return table_from_json(doc, source)


def load_table(path):
    """The table in `path`: a JSON file (`moet params --json > FILE`, a run's
    parameterization.json) or a moet run directory, whose latest checkpoint holds the table the run
    trained with (parameterization.json beside it when the run has no checkpoint)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        from .checkpoint import latest_checkpoint_dir, read_checkpoint_metadata
        if os.path.exists(os.path.join(path, "latest")):
            meta = read_checkpoint_metadata(latest_checkpoint_dir(path))
            return meta.table
        path = os.path.join(path, "parameterization.json")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise MoetError(f"{path}: cannot read ({e.strerror})") from None
    return parse_table(text, path)
