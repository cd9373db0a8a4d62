"""Checkpoints in both directions: the package's safetensors writer reproduces moet's files byte
for byte, its own files read back exactly, and moet resumes a run from a checkpoint the package
wrote, ending where the same run continued inside moet ends."""
import os
import shutil

import torch

import moet as mt
from moet import safetensors
from test_moet_parity import CASES, RTOL, relative_error, step_in_torch


def test_rewriting_moet_files_is_byte_identical(moet, tmp_path):
    moet.train(tmp_path / "run", CASES["sp"], steps=2)
    ckpt = mt.read_checkpoint(str(tmp_path / "run"))
    for name in ("model.safetensors", "optimizer.safetensors"):
        with open(os.path.join(ckpt.path, name), "rb") as f:
            original = f.read()
        tensors, metadata = safetensors.decode(original, name)
        assert safetensors.encode(tensors, metadata) == original, name


def test_own_checkpoint_reads_back_exactly(tmp_path):
    cfg = mt.config_from_dict({"model": {"N": 32, "d_head": 16, "M": 4, "K": 2, "Ne": 16,
                                         "L": 2, "seq": 16, "vocab": 64}})
    model = mt.MoETransformer(cfg.model)
    for p in model.parameters():
        torch.nn.init.normal_(p)
    first = {n: torch.randn_like(t) for n, t in mt.model_tensors(model).items()}
    state = {k: 1.5 for k in mt.checkpoint.STATE_KEYS}
    state["train_loader"] = {"rng": ["0" * 16] * 4}
    state["val_loss"] = float("nan")
    table = {"format": "moet.parameterization/1", "note": "any JSON"}
    mt.save_checkpoint(str(tmp_path), 7, model, mt.config_to_toml(cfg), table, first, None,
                       7, state)
    assert open(tmp_path / "latest").read() == "ckpt-000000007\n"
    tensors, meta = safetensors.read(tmp_path / "ckpt-000000007" / "model.safetensors")
    assert meta["step"] == "7" and mt.parse_config(meta["config"]) == cfg
    for name, t in mt.model_tensors(model).items():
        assert torch.equal(tensors[name], t.detach())
    moments, _ = safetensors.read(tmp_path / "ckpt-000000007" / "optimizer.safetensors")
    assert all(torch.equal(moments[n + ".m"], first[n]) for n in first)
    assert not any(n.endswith(".v") for n in moments)
    back = open(tmp_path / "ckpt-000000007" / "state.json").read()
    assert '"val_loss": null' in back  # JSON has no NaN; moet reads null


def test_moet_resumes_a_checkpoint_written_by_the_package(moet, tmp_path):
    sets = dict(CASES["completep-moe"])
    sets.update({"optim.schedule": "cosine", "optim.warmup": 0, "balance.aux_weight": 0.01})
    a, b = tmp_path / "moet", tmp_path / "torch"
    moet.train(a, sets, steps=3, stop_after=1)
    shutil.copytree(a, b)
    moet.train(a, steps=3, resume=True)  # moet alone: steps 2 and 3

    model, optimizer, loader, c = step_in_torch(str(b))  # step 2 in PyTorch
    first, second = mt.optimizer_moments(model, optimizer)
    state = dict(c.state, train_loader=loader.state(), final=False)
    mt.save_checkpoint(str(b), 2, model, c.config_toml, c.parameterization, first, second,
                       c.optimizer_steps + 1, state)
    moet.train(b, steps=3, resume=True)  # step 3 in moet, from the package's checkpoint

    ours, theirs = mt.read_checkpoint(str(b)), mt.read_checkpoint(str(a))
    assert ours.step == theirs.step == 3
    assert ours.state["train_loader"] == theirs.state["train_loader"]
    for name, t in theirs.params.items():
        assert relative_error(ours.params[name], t) <= RTOL, name
