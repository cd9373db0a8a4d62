"""The package against moet itself: a moet checkpoint loaded into MoETransformer gives moet's
validation loss, and one optimizer step in PyTorch with apply's groups gives moet's next
checkpoint (parameters, moments, balancing biases)."""
import shutil

import pytest
import torch

import moet as mt

# Each preset with architecture options that exercise a different part of the model, and a base
# shape unlike the target so the multipliers are not all 1.
CASES = {
    "sp": {"param.preset": "sp", "model.router_score": "softmax", "model.linear_bias": "true",
           "balance.aux_weight": 0.01, "balance.z_weight": 0.001, "param.base.N": 32},
    "completep-moe": {"param.preset": "completep-moe", "model.norm": "rmsnorm",
                      "model.pos": "rope", "model.act": "swiglu", "model.qk_norm": "true",
                      "model.shared_experts": 1, "model.shared_Ne": 24, "model.moe_every": 2,
                      "model.dense_Nf": 72, "model.tied_embed": "false",
                      "model.gate_renorm": "true", "param.init_std": 0.1,
                      "param.base.N": 32, "param.base.L": 2,
                      "param.base.M": 3, "param.base.K": 1, "param.base.Ne": 20},
    "mssp": {"param.preset": "mssp", "param.regime": "I", "param.base.N": 32,
             "param.base.Ne": 20, "param.base.M": 3, "param.base.K": 1, "model.L": 2},
    # HyperP's SqrtGate (experts weighted by sqrt of the renormalised softmax gate).
    "sqrt-gate": {"param.preset": "mup", "model.router_score": "softmax",
                  "model.gate_renorm": "true", "model.gate_fn": "sqrt", "param.base.N": 32},
}
RTOL = 1e-5
UPDATE_RTOL = 1e-3


def val_loss(model, cfg):
    _, val = mt.open_splits(cfg.data)
    loader = mt.BatchLoader(val, True, cfg.train["batch"], cfg.model.seq, cfg.train["seed"])
    batches = max(1, min(cfg.train["eval_batches"], loader.batches_per_pass()))
    total = 0.0
    with torch.no_grad():
        for _ in range(batches):
            total += model(*loader.next()).loss.item()
    return total / batches


@pytest.mark.parametrize("preset", sorted(CASES))
def test_validation_loss_matches_moet(moet, tmp_path, preset):
    status = moet.train(tmp_path / "run", CASES[preset], steps=3)
    model, _, ckpt = mt.load_model(str(tmp_path / "run"))
    assert ckpt.step == 3
    ours = val_loss(model, ckpt.config)
    print(f"{preset}: val_loss {ours:.9f} in PyTorch, {status['val_loss']:.9f} in moet, "
          f"{abs(ours - status['val_loss']) / abs(status['val_loss']):.2g} relative")
    assert abs(ours - status["val_loss"]) <= RTOL * abs(status["val_loss"]), (ours, status)


def step_in_torch(run_dir):
    """Loads the run's checkpoint, takes the next optimizer step as moet would; returns the
    model, optimizer, training loader and the checkpoint it started from."""
    model, groups, c = mt.load_model(run_dir)
    cfg = c.config
    optimizer = mt.make_optimizer(groups, cfg.optim)
    mt.load_optimizer_state(optimizer, c)
    scheduler = mt.make_scheduler(optimizer, cfg.optim, cfg.train["steps"], start_step=c.step)
    train, _ = mt.open_splits(cfg.data)
    loader = mt.BatchLoader(train, False, cfg.train["batch"], cfg.model.seq, cfg.train["seed"])
    loader.restore(c.state["train_loader"])
    out = model(*loader.next())
    (out.loss + out.aux_loss + out.z_loss).backward()
    mt.clip_gradients(model.parameters(), cfg.optim.clip)
    optimizer.step()
    scheduler.step()
    model.balance()
    return model, optimizer, loader, c


def relative_error(a, b):
    return float((a.double() - b.double()).norm() / max(float(b.double().norm()), 1e-30))


@pytest.mark.parametrize("optim", ["adamw", "sgd"])
def test_one_step_matches_moet(moet, tmp_path, optim):
    sets = dict(CASES["completep-moe" if optim == "adamw" else "mssp"])
    sets.update({"optim.name": optim, "optim.schedule": "cosine", "optim.warmup": 0,
                 "optim.clip": 0.5, "balance.aux_weight": 0.01, "balance.z_weight": 0.001})
    if optim == "adamw":
        sets.update({"optim.wd": 0.1, "optim.lr": 0.02})
    else:
        sets.update({"optim.momentum": 0.9, "optim.lr": 0.5, "param.preset": "mup-moe"})
    a, b = tmp_path / "moet", tmp_path / "torch"
    moet.train(a, sets, steps=4, stop_after=1)
    shutil.copytree(a, b)
    moet.train(a, steps=4, stop_after=2, resume=True)
    before = mt.read_checkpoint(str(b))
    after = mt.read_checkpoint(str(a))
    assert (before.step, after.step) == (1, 2)
    model, optimizer, _, _ = step_in_torch(str(b))
    mine = dict(model.named_parameters())
    moments = mt.optimizer_moments(model, optimizer)
    worst = worst_of_update = 0.0
    for name, theirs in after.params.items():
        moved = float((theirs.double() - before.params[name].double()).norm())
        if name.endswith("route_bias"):
            assert moved > 0, f"{name}: the balancing bias did not move in moet"
        err = relative_error(mine[name].detach(), theirs)
        assert err <= RTOL, f"{name}: parameters differ by {err:.3g} relative"
        err_m = relative_error(moments[0][name], after.first_moment[name])
        assert err_m <= RTOL or name.endswith("route_bias"), f"{name}.m: {err_m:.3g}"
        if optim == "adamw":
            assert relative_error(moments[1][name], after.second_moment[name]) <= RTOL
        worst = max(worst, err)
        if moved > 0:
            # Against the step itself: a wrong LR or decay on a tensor whose step is tiny next
            # to its norm would pass the parameter check above (measured worst: 3.6e-5, SGD).
            diff = float((mine[name].detach().double() - theirs.double()).norm())
            assert diff <= UPDATE_RTOL * moved, \
                f"{name}: the step differs by {diff / moved:.3g} of itself"
            worst_of_update = max(worst_of_update, diff / moved)
    print(f"{optim}: worst relative parameter difference {worst:.3g}, "
          f"{worst_of_update:.3g} of the step's own change")
