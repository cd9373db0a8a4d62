"""apply() on a table from `moet params --json`, and every bad input the package reports: one
line naming the file, field or tensor, never a traceback from deep inside."""
import json
import subprocess

import pytest
import torch

import moet as mt
from moet import safetensors

SHAPE = {"model.N": 48, "model.d_head": 16, "model.M": 6, "model.K": 2, "model.Ne": 40,
         "model.L": 2, "model.seq": 32}


def params_json(moet_bin, tmp_path, **overrides):
    sets = dict(SHAPE, **{"param.preset": "completep-moe", "param.base.N": 32,
                          "param.base.M": 3, "param.base.K": 1, "model.shared_experts": 1})
    sets.update(overrides)
    cmd = [moet_bin, "params", "--json"]
    for k, v in sets.items():
        cmd += ["--set", f"{k}={v}"]
    path = tmp_path / f"table-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return str(path)


def model_for(**overrides):
    c = {k.split(".")[1]: v for k, v in SHAPE.items()}
    c["shared_experts"] = 1
    c.update(overrides)
    return mt.MoETransformer(c)


def one_line_error(fn):
    with pytest.raises(mt.MoetError) as e:
        fn()
    message = str(e.value)
    assert "\n" not in message, message
    return message


def test_the_model_refuses_to_run_before_its_block_scalars_are_set(moet_bin, tmp_path):
    model = model_for()
    inputs = torch.zeros(1, 4, dtype=torch.long)
    assert "block scalars are not set" in one_line_error(lambda: model(inputs, inputs))
    assert "block scalars are not set" in one_line_error(lambda: model.logits(inputs))
    mt.apply(model, params_json(moet_bin, tmp_path), generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(model(inputs, inputs).loss)


def test_apply_initialises_and_groups_as_the_table_says(moet_bin, tmp_path):
    path = params_json(moet_bin, tmp_path)
    table = mt.load_table(path)
    model = model_for()
    groups = mt.apply(model, path, generator=torch.Generator().manual_seed(0))
    tensors = mt.model_tensors(model)
    assert list(tensors) == [r.name for r in table.tensors]  # moet's layout, in moet's order
    by_name = {g["name"]: g for g in groups}
    for row in table.tensors:
        t = tensors[row.name]
        owner, _, local = row.name.rpartition(".")
        module = model.get_submodule(owner) if owner else model
        assert module.mult(local) == row.multiplier
        if row.role == "route_bias":
            assert row.name not in by_name and not t.requires_grad
            assert module.bias_lr == row.lr
            continue
        g = by_name[row.name]
        assert (g["lr"], g["eps"], g["weight_decay"]) == (row.lr, row.eps, row.wd)
        if row.init == "normal" and t.numel() >= 1000:
            assert abs(t.std().item() / row.init_std - 1) < 0.1, row.name
        elif row.init != "normal":
            assert torch.all(t == (1.0 if row.init == "one" else 0.0)), row.name
    assert model.scalars == table.block
    assert model.blocks[0].moe.aggregation_mult == table.block["aggregation_mult"]
    assert table.block["aggregation_mult"] != 1.0  # the check above would pass by default


def test_one_scheduler_factor_scales_every_group(moet_bin, tmp_path):
    model = model_for()
    groups = mt.apply(model, params_json(moet_bin, tmp_path))
    peak = [g["lr"] for g in groups]
    optim = mt.OptimConfig(schedule="cosine", warmup=2)
    opt = mt.make_optimizer(groups, optim)
    sched = mt.make_scheduler(opt, optim, total_steps=10)
    assert len(set(peak)) > 1  # per-tensor LRs differ
    for step in range(10):
        f = mt.lr_factor(optim, step, 10)
        assert all(abs(g["lr"] - f * p) <= 1e-12 * p for g, p in zip(opt.param_groups, peak))
        opt.step()
        sched.step()
    assert mt.lr_factor(optim, 0, 10) == 0.5 and mt.lr_factor(optim, 9, 10) < 0.2


def test_table_for_another_shape_names_the_tensor_and_both_shapes(moet_bin, tmp_path):
    path = params_json(moet_bin, tmp_path, **{"model.N": 64})
    msg = one_line_error(lambda: mt.apply(model_for(), path))
    assert msg == f"tensor embed: the table ({path}) is for shape [2048, 64], the model has " \
                  "[2048, 48]"


def test_table_row_without_tensor_and_tensor_without_row(moet_bin, tmp_path):
    deeper = params_json(moet_bin, tmp_path, **{"model.L": 3})
    msg = one_line_error(lambda: mt.apply(model_for(), deeper))
    assert msg.startswith(f"table ({deeper}): row blocks.2.ln1.gain (shape [48]) has no tensor")
    msg = one_line_error(lambda: mt.apply(model_for(L=3), params_json(moet_bin, tmp_path)))
    assert msg.startswith("tensor blocks.2.ln1.gain: the table") and "has no row" in msg


def test_malformed_table_fields(moet_bin, tmp_path):
    doc = json.loads(open(params_json(moet_bin, tmp_path)).read())
    del doc["tensors"][3]["lr"]
    assert one_line_error(lambda: mt.table_from_json(doc, "t.json")) == \
        "t.json: tensors[3].lr: missing"
    doc["tensors"][3]["lr"] = "fast"
    assert one_line_error(lambda: mt.table_from_json(doc, "t.json")) == \
        "t.json: tensors[3].lr: wrong type (str, expected num)"
    doc["format"] = "other/2"
    assert "format: expected 'moet.parameterization/1'" in \
        one_line_error(lambda: mt.table_from_json(doc, "t.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert one_line_error(lambda: mt.load_table(bad)).startswith(f"{bad}: not valid JSON")


def test_muon_table_is_refused(moet_bin, tmp_path):
    table = params_json(moet_bin, tmp_path, **{"param.preset": "mup", "optim.name": "muon"})
    message = one_line_error(lambda: mt.apply(model_for(), table))
    assert "optimizer: the table was resolved for optim.name = muon" in message, message


def test_model_without_moet_hooks(moet_bin, tmp_path):
    class Plain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Parameter(torch.zeros(2048, 48))
    doc = json.loads(open(params_json(moet_bin, tmp_path)).read())
    doc["tensors"] = doc["tensors"][:1]
    msg = one_line_error(lambda: mt.apply(Plain(), mt.table_from_json(doc, "t")))
    assert msg.startswith("Plain: has no set_block_scalars(")


def test_bad_checkpoint_and_data_files(tmp_path):
    path = tmp_path / "x.safetensors"
    safetensors.write(path, {"a": torch.ones(4)}, {"format": "moet-checkpoint-1"})
    data = path.read_bytes()
    path.write_bytes(data[:-4])
    assert "tensor a: field data_offsets: [0, 16] runs past the 12 bytes" in \
        one_line_error(lambda: safetensors.read(path))
    model = model_for(L=1)
    params = {n: t.detach().clone() for n, t in mt.model_tensors(model).items()}
    params["embed"] = torch.zeros(2048, 32)
    assert one_line_error(lambda: mt.load_params(model, params, "ck")) == \
        "ck: tensor embed has shape [2048, 32], the model has [2048, 48]"
    shard = tmp_path / "val_0.bin"
    shard.write_bytes(b"\0" * 2048)
    assert "not an llm.c token shard (magic 0" in one_line_error(lambda: mt.read_shard(shard))
    assert one_line_error(lambda: mt.config_from_dict({"model": {"width": 3}}, "c.toml")) == \
        "c.toml: model.width: unknown key"
    assert one_line_error(lambda: mt.config_from_dict({"model": {"N": "wide"}}, "c.toml")) == \
        "c.toml: model.N: expected int, got 'wide'"
