"""examples/torch/train.py writes moet's run files (same metrics and status fields as `moet
train` on the same config), and moet resumes its run."""
import json
import os
import subprocess

from conftest import REPO

CONFIG = """[model]
N = 32
d_head = 16
M = 4
K = 2
Ne = 24
L = 2
seq = 16

[optim]
name = "adamw"
clip = 1.0

[train]
steps = 4
batch = 4
eval_every = 2
eval_batches = 2
log_every = 2
threads = 1
"""


def lines(path):
    return [json.loads(line) for line in open(path)]


def test_example_writes_moet_run_files_that_moet_resumes(moet, moet_bin, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG + f'\n[data]\ntrain = "{moet.shards}"\n')
    ours, theirs = tmp_path / "torch", tmp_path / "moet"
    r = subprocess.run(["/usr/bin/python3", os.path.join(REPO, "examples/torch/train.py"),
                        "--config", str(config), "--out", str(ours), "--quiet"],
                       capture_output=True, text=True, env=dict(os.environ, MOET_BINARY=moet_bin))
    assert r.returncode == 0, r.stderr
    subprocess.run([moet_bin, "train", "--quiet", "--config", str(config), "--out", str(theirs)],
                   check=True, capture_output=True)
    mine, reference = lines(ours / "metrics.jsonl"), lines(theirs / "metrics.jsonl")
    assert [m["step"] for m in mine] == [m["step"] for m in reference] == [2, 4]
    for a, b in zip(mine, reference):
        assert set(a) == set(b)
        assert set(a["routing"][0]) == set(b["routing"][0])
    status = json.load(open(ours / "status.json"))
    assert set(status) == set(json.load(open(theirs / "status.json")))
    assert status["status"] == "done" and status["steps"] == 4
    assert abs(status["val_loss"] - mine[-1]["val_loss"]) == 0
    # Same data order and rules, different init draws: the losses are close, not equal.
    assert abs(mine[-1]["loss"] - reference[-1]["loss"]) < 0.2

    r = subprocess.run([moet_bin, "train", "--quiet", "--resume", str(ours),
                        "--set", "train.steps=6"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.load(open(ours / "status.json"))["steps"] == 6
    assert [m["step"] for m in lines(ours / "metrics.jsonl")] == [2, 4, 6]
