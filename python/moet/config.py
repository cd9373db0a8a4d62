"""moet's configuration (the TOML `moet train` writes as config.toml and stores in checkpoints)
as Python objects: ModelConfig for the architecture (keys model.* and balance.*), OptimConfig for
the optimizer and schedule (optim.*), and the remaining sections as plain dicts.

Defaults are moet's (src/model/config.h, src/optim/config.h); `moet config --list` prints them.
"""
import dataclasses
from dataclasses import dataclass, field

from .errors import MoetError

try:
    import tomllib as _toml
except ImportError:  # Python < 3.11
    try:
        import tomli as _toml
    except ImportError:
        _toml = None


@dataclass
class ModelConfig:
    vocab: int = 2048
    seq: int = 128
    N: int = 128
    L: int = 2
    d_head: int = 32
    M: int = 8
    K: int = 2
    Ne: int = 128
    norm: str = "layernorm"  # layernorm | rmsnorm
    norm_eps: float = 1e-5
    pos: str = "learned"  # learned | rope
    rope_base: float = 10000.0
    qk_norm: bool = False
    act: str = "gelu"  # gelu (tanh form) | swiglu
    tied_embed: bool = True
    linear_bias: bool = False
    moe_every: int = 1
    dense_Nf: int = 0
    shared_experts: int = 0
    shared_Ne: int = 0
    router_score: str = "sigmoid"  # sigmoid | softmax
    gate_renorm: bool = False
    gate_fn: str = "linear"  # linear | sqrt (HyperP's SqrtGate: experts weighted by sqrt(gate))
    # balance.*
    bias_lr: float = 0.1
    aux_weight: float = 0.0
    z_weight: float = 0.0

    def is_moe_block(self, layer):
        return self.moe_every > 0 and (layer + 1) % self.moe_every == 0

    def dense_width(self):
        return self.dense_Nf if self.dense_Nf > 0 else 4 * self.N

    def shared_width(self):
        return self.shared_Ne if self.shared_Ne > 0 else self.Ne

    def up_cols(self, hidden):
        return 2 * hidden if self.act == "swiglu" else hidden

    def validate(self, where="model"):
        for key in ("vocab", "seq", "N", "L", "d_head", "M", "K", "Ne"):
            if getattr(self, key) < 1:
                raise MoetError(f"{where}.{key}: must be positive (got {getattr(self, key)})")
        if self.N % self.d_head:
            raise MoetError(f"{where}.N: must be divisible by d_head (N {self.N}, d_head "
                            f"{self.d_head})")
        if self.K > self.M:
            raise MoetError(f"{where}.K: must not exceed M (K {self.K} > M {self.M})")
        for key, choices in (("norm", ("layernorm", "rmsnorm")), ("pos", ("learned", "rope")),
                             ("act", ("gelu", "swiglu")),
                             ("router_score", ("sigmoid", "softmax")),
                             ("gate_fn", ("linear", "sqrt"))):
            if getattr(self, key) not in choices:
                raise MoetError(f"{where}.{key}: '{getattr(self, key)}' is not one of "
                                f"{' | '.join(choices)}")
        if self.pos == "rope" and self.d_head % 2:
            raise MoetError(f"{where}.d_head: must be even with pos = rope (got {self.d_head})")
        return self


@dataclass
class OptimConfig:
    name: str = "adam"  # adam | adamw | sgd
    lr: float = 1e-2
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-12
    wd: float = 0.0
    momentum: float = 0.0
    clip: float = 0.0
    schedule: str = "constant"  # constant | cosine | wsd
    warmup: float = 0.5
    lr_floor: float = 0.1
    decay: float = 0.2


@dataclass
class RunConfig:
    """A whole moet config: the typed model and optim sections, the rest as dicts."""
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    param: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)


_TRAIN_DEFAULTS = {"steps": 200, "batch": 16, "accum": 1, "seed": 1, "eval_every": 50,
                   "eval_batches": 8, "log_every": 10, "ckpt_every": 0, "threads": 0,
                   "diverge_factor": 1.5, "save": True, "precision": "fp32",
                   "max_memory": "auto"}
_DATA_DEFAULTS = {"train": "bundled", "val": "bundled", "tokenizer": "bundled",
                  "val_fraction": 0.05, "vocab_size": 0}


def _fill(cls, values, where, rename=None):
    """cls(**values) with every key checked: an unknown key or a value of the wrong type is one
    line naming it."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for key, value in values.items():
        name = (rename or {}).get(key, key)
        if name not in known:
            raise MoetError(f"{where}.{key}: unknown key")
        want = type(known[name].default)
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise MoetError(f"{where}.{key}: expected {want.__name__}, got {value!r}")
        out[name] = value
    return out


def _sections(doc, source):
    if not isinstance(doc, dict):
        raise MoetError(f"{source}: expected a table of sections")
    for name, section in doc.items():
        if name not in ("model", "balance", "optim", "param", "data", "train"):
            raise MoetError(f"{source}: [{name}]: unknown section")
        if not isinstance(section, dict):
            raise MoetError(f"{source}: {name}: expected a table")
    return doc


def config_from_dict(doc, source="config"):
    """A RunConfig from moet's sections ({"model": {...}, "balance": {...}, "optim": {...},
    ...}); missing keys take moet's defaults."""
    doc = _sections(doc, source)
    model = {}
    model.update(_fill(ModelConfig, doc.get("model", {}), f"{source}: model"))
    balance = doc.get("balance", {})
    for key in balance:
        if key not in ("bias_lr", "aux_weight", "z_weight"):
            raise MoetError(f"{source}: balance.{key}: unknown key")
    model.update(_fill(ModelConfig, balance, f"{source}: balance"))
    optim = _fill(OptimConfig, doc.get("optim", {}), f"{source}: optim")
    train = dict(_TRAIN_DEFAULTS)
    train.update(doc.get("train", {}))
    data = dict(_DATA_DEFAULTS)
    data.update(doc.get("data", {}))
    config = RunConfig(model=ModelConfig(**model), optim=OptimConfig(**optim),
                       param=dict(doc.get("param", {})), data=data, train=train)
    config.model.validate(f"{source}: model")
    return config


def parse_config(text, source="config"):
    """A RunConfig from TOML text (a moet config file, or the config stored in a checkpoint)."""
    if _toml is None:
        raise MoetError(f"{source}: reading TOML needs Python 3.11 (tomllib) or the tomli package")
    try:
        doc = _toml.loads(text)
    except _toml.TOMLDecodeError as e:
        raise MoetError(f"{source}: not valid TOML ({e})") from None
    return config_from_dict(doc, source)


def load_config(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise MoetError(f"{path}: cannot read ({e.strerror})") from None
    return parse_config(text, str(path))


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value + "'" if "'" not in value else '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, float):
        return repr(value)
    return str(value)


def config_to_toml(config):
    """TOML text in moet's section layout; moet reads it back (`moet train --config`)."""
    m = dataclasses.asdict(config.model)
    balance = {k: m.pop(k) for k in ("bias_lr", "aux_weight", "z_weight")}
    param = dict(config.param)
    base = param.pop("base", None)
    sections = [("model", m), ("balance", balance), ("optim", dataclasses.asdict(config.optim)),
                ("param", param)]
    if base is not None:
        sections.append(("param.base", base))
    sections += [("data", config.data), ("train", config.train)]
    out = []
    for name, values in sections:
        out.append(f"[{name}]")
        out += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        out.append("")
    return "\n".join(out)
