"""apply(model, table): initialise a model's tensors, set their multipliers and the block scalars
as a resolved moet table says, and return optimizer parameter groups carrying every tensor's LR,
epsilon and weight decay.

Each group's "lr" is the tensor's peak LR; a schedule that multiplies every group's LR by the same
factor (torch.optim.lr_scheduler.LambdaLR with moet.lr_factor) then reproduces moet's schedule, which
scales every tensor together. Tensors the optimizer does not train (the MoE balancing bias,
role route_bias) get no group: their LR is the bias rule's eta_bias, applied by model.balance()."""
import math

import torch

from .errors import MoetError
from .table import Table, load_table


def _owner(model, name):
    prefix, _, local = name.rpartition(".")
    try:
        return (model.get_submodule(prefix) if prefix else model), local
    except AttributeError:
        raise MoetError(f"tensor {name}: no module {prefix} in the model") from None


def model_tensors(model):
    """{name: tensor} of every parameter and persistent buffer, in registration order."""
    tensors = dict(model.named_parameters())
    for name, b in model.named_buffers():
        prefix, _, local = name.rpartition(".")
        owner = model.get_submodule(prefix) if prefix else model
        if local not in owner._non_persistent_buffers_set:
            tensors.setdefault(name, b)
    return tensors


def check_table(model, table):
    """Raises MoetError (one line) unless the model's tensors and the table's rows are the same
    names with the same shapes. Returns {name: (tensor, row)}."""
    tensors = model_tensors(model)
    where = f" ({table.source})" if table.source else ""
    rows = table.by_name()
    for name, t in tensors.items():
        row = rows.get(name)
        if row is None:
            raise MoetError(f"tensor {name}: the table{where} has no row for it")
        if tuple(t.shape) != tuple(row.shape):
            raise MoetError(f"tensor {name}: the table{where} is for shape {list(row.shape)}, the "
                            f"model has {list(t.shape)}")
    for row in table.tensors:
        if row.name not in tensors:
            raise MoetError(f"table{where}: row {row.name} (shape {list(row.shape)}) has no "
                            "tensor in the model")
    return {name: (t, rows[name]) for name, t in tensors.items()}


@torch.no_grad()
def init_tensor(t, row, generator=None):
    """Fills t as the row says: zeros, ones, or N(0, init_std^2), every expert from one draw when
    the row is tied across experts (the first dimension indexes experts)."""
    if row.init == "zero":
        t.zero_()
    elif row.init == "one":
        t.fill_(1.0)
    elif row.tied:
        first = torch.empty_like(t[0]).normal_(0.0, row.init_std, generator=generator)
        t.copy_(first.expand_as(t))
    else:
        t.normal_(0.0, row.init_std, generator=generator)


def apply(model, table, init=True, generator=None):
    """Initialises (unless init=False, e.g. after loading a checkpoint) and configures `model` from
    `table` (a Table, or a path load_table reads), returning a list of parameter groups
    [{"params": [tensor], "name", "lr", "eps", "weight_decay"}] for torch.optim.Adam, AdamW or SGD.

    Errors (MoetError, one line): a model tensor without a table row, a row without a tensor, a
    shape that differs, a multiplier other than 1 for a module that cannot take one (it needs
    set_multiplier(name, value)), block scalars for a model without set_block_scalars(...)."""
    if not isinstance(table, Table):
        table = load_table(table)
    if table.optimizer == "muon":
        raise MoetError(f"{table.source}: optimizer: the table was resolved for optim.name = muon, "
                        "which this package does not implement (its groups would train the "
                        "orthogonalised tensors with Adam at Muon's LR)")
    pairs = check_table(model, table)
    if not hasattr(model, "set_block_scalars"):
        raise MoetError(f"{type(model).__name__}: has no set_block_scalars(residual_mult, "
                        f"attn_logit_scale, aggregation_mult, readout_mult) for the table's block "
                        f"scalars {table.block}")
    model.set_block_scalars(**table.block)
    groups = []
    for name, (t, row) in pairs.items():
        if init:
            init_tensor(t, row, generator)
        owner, local = _owner(model, name)
        if hasattr(owner, "set_multiplier"):
            owner.set_multiplier(local, row.multiplier)
        elif row.multiplier != 1.0:
            raise MoetError(f"tensor {name}: multiplier {row.multiplier}, but "
                            f"{type(owner).__name__} has no set_multiplier(name, value)")
        if row.role == "route_bias":
            if not hasattr(owner, "bias_lr"):
                raise MoetError(f"tensor {name}: a balancing bias, but {type(owner).__name__} "
                                "has no bias_lr")
            owner.bias_lr = row.lr
            t.requires_grad_(False)
            continue
        if not t.requires_grad:
            raise MoetError(f"tensor {name}: role {row.role} is trained, but the tensor does not "
                            "require grad")
        groups.append({"params": [t], "name": name, "lr": row.lr, "eps": row.eps,
                       "weight_decay": row.wd})
    return groups


def make_optimizer(groups, optim):
    """The torch optimizer moet's optim.* settings describe (an OptimConfig or RunConfig):
    adam -> torch.optim.Adam (L2 weight decay), adamw -> AdamW (decoupled), sgd -> SGD (L2, with
    momentum). Each group keeps its own lr, eps and weight_decay."""
    optim = getattr(optim, "optim", optim)
    if optim.name in ("adam", "adamw"):
        cls = torch.optim.Adam if optim.name == "adam" else torch.optim.AdamW
        return cls(groups, lr=optim.lr, betas=(optim.beta1, optim.beta2), eps=optim.eps,
                   weight_decay=optim.wd, foreach=False)
    if optim.name == "sgd":
        return torch.optim.SGD(groups, lr=optim.lr, momentum=optim.momentum,
                               weight_decay=optim.wd, foreach=False)
    raise MoetError(f"optim.name: '{optim.name}' is not one of adam | adamw | sgd")


def warmup_steps(optim, total_steps):
    w = optim.warmup * total_steps if optim.warmup < 1 else optim.warmup
    return min(total_steps, int(math.floor(w + 0.5)))


def lr_factor(optim, step, total_steps):
    """moet's schedule (src/optim/schedule.cpp): the factor of every tensor's peak LR at 0-based
    `step`: linear warmup (step 0 already at 1/warmup), then constant, cosine or WSD to lr_floor."""
    optim = getattr(optim, "optim", optim)
    warmup = warmup_steps(optim, total_steps)
    if step < warmup:
        return (step + 1) / warmup
    if optim.schedule == "constant":
        return 1.0
    floor = optim.lr_floor
    if optim.schedule == "cosine":
        span = max(1, total_steps - warmup)
        progress = min(1.0, (step - warmup) / span)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    decay_steps = int(math.floor(optim.decay * total_steps + 0.5))
    decay_start = total_steps - decay_steps
    if step < decay_start or decay_steps == 0:
        return 1.0
    progress = (step - decay_start + 1) / decay_steps
    return 1.0 - (1.0 - floor) * min(1.0, progress)


def make_scheduler(optimizer, optim, total_steps, start_step=0):
    """LambdaLR multiplying every group's LR by lr_factor at each step: call scheduler.step()
    after each optimizer.step(). start_step continues a run (e.g. one resumed from a checkpoint)."""
    optim = getattr(optim, "optim", optim)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(optim, s + start_step, total_steps))


@torch.no_grad()
def clip_gradients(parameters, max_norm):
    """moet's clipping: the global L2 norm of the gradients (summed in double); when max_norm > 0
    and the norm exceeds it, every gradient is scaled by max_norm / norm. Returns the norm."""
    grads = [p.grad for p in parameters if p.grad is not None]
    norm = math.sqrt(sum(float(g.double().pow(2).sum()) for g in grads)) if grads else 0.0
    if max_norm > 0 and norm > max_norm:
        for g in grads:
            g.mul_(max_norm / norm)
    return norm
