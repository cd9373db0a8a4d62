"""Shared fixtures: the moet binary (MOET_BINARY, set by ctest; else build/moet of this checkout),
the bundled corpus exported as shards once per session, and a helper that trains with moet."""
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "python"))


@pytest.fixture(scope="session")
def moet_bin():
    path = os.environ.get("MOET_BINARY", os.path.join(REPO, "build", "moet"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"moet binary not found at {path} (build it, or set MOET_BINARY)")
    return path


@pytest.fixture(scope="session")
def shards(moet_bin, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("data"))
    subprocess.run([moet_bin, "data", "prepare", "--out", out], check=True,
                   stdout=subprocess.DEVNULL)
    return out


# Shapes unlike the bench models (tiny/small), small enough for a few ms per step.
SMALL = {"model.N": 48, "model.d_head": 16, "model.M": 6, "model.K": 2, "model.Ne": 40,
         "model.L": 3, "model.seq": 32, "train.batch": 4, "train.eval_batches": 3,
         "train.threads": 1}


class Moet:
    def __init__(self, binary, shards):
        self.binary, self.shards = binary, shards

    def train(self, out, sets=None, steps=3, stop_after=None, resume=False):
        """Runs `moet train`; returns status.json."""
        values = dict(SMALL)
        values.update({"train.steps": steps, "data.train": self.shards})
        values.update(sets or {})
        cmd = [self.binary, "train", "--quiet"]
        if resume:
            cmd += ["--resume", str(out), "--set", f"train.steps={steps}"]
        else:
            cmd += ["--out", str(out)]
            for k, v in values.items():
                cmd += ["--set", f"{k}={v}"]
        if stop_after:
            cmd += ["--stop-after", str(stop_after)]
        r = subprocess.run(cmd, capture_output=True, text=True,
                           env=dict(os.environ, OMP_NUM_THREADS="1"))
        assert r.returncode == 0, f"{' '.join(cmd)}: {r.stderr}"
        with open(os.path.join(out, "status.json")) as f:
            return json.load(f)


@pytest.fixture(scope="session")
def moet(moet_bin, shards):
    return Moet(moet_bin, shards)
