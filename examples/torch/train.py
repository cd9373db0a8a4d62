#!/usr/bin/env python3
"""Train moet's MoE transformer in PyTorch on moet's data, with moet's parameterization, writing
moet's run files — so moet's tools (report, resume, sweeps) can read the run.

  python3 examples/torch/train.py --config CONFIG.toml --out DIR [--device cpu|cuda]
                                  [--set key=value]... [--table TABLE.json] [--resume]

CONFIG is a moet config (`moet config --list` has every key); data.train must name llm.c shards,
e.g. the bundled corpus exported with `moet data prepare --out DIR`. The per-tensor table comes
from --table (`moet params --config CONFIG --json > TABLE.json`) or, without it, from running
`moet params` (the binary in $MOET_BINARY, on PATH, or build/moet of this checkout).

DIR receives what `moet train --out DIR` writes: config.toml, parameterization.json,
metrics.jsonl (one JSON object per logged step: step, tokens, loss, aux_loss, z_loss, lr,
grad_norm, tokens_per_s, routing, and val_loss when validated), status.json (status running /
done / diverged / stopped, steps, train_loss, val_loss, tokens_per_s; null for a number it does
not have) and a checkpoint in moet's format, which `moet train --resume DIR` continues (on CPU).
Exit status: 0 done, 2 bad input (one line on stderr), 3 diverged — as moet's. So `moet sweep`
runs it as a spec's trainer (`[trainer] command = "python3 examples/torch/train.py --config
{config} --table {table} --out {out}"`, docs/trainer-protocol.md).

The data order, the schedule, the clipping and the balancing-bias rule are moet's, so on the same
config this script follows moet's run up to floating-point rounding (its init draws differ:
torch's generator, seeded by train.seed)."""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import moet as mt  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN_FILES_VERSION = 1  # status.json's "version": docs/trainer-protocol.md


def find_moet():
    for path in (os.environ.get("MOET_BINARY"), shutil.which("moet"),
                 os.path.join(REPO, "build", "moet")):
        if path and os.access(path, os.X_OK):
            return path
    raise mt.MoetError("--table: not given, and no moet binary to resolve the table with "
                       "(set MOET_BINARY or run `moet params --config CONFIG --json > TABLE`)")


def resolve_table(config_path, sets, table_path):
    if table_path:
        return mt.load_table(table_path)
    cmd = [find_moet(), "params", "--json", "--config", config_path]
    for s in sets:
        cmd += ["--set", s]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise mt.MoetError(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else
                           f"{' '.join(cmd)}: exit status {r.returncode}")
    return mt.parse_table(r.stdout, "moet params --json")


def load_run_config(path, sets):
    """The config file with --set overrides applied (values parsed as TOML, bare words as text)."""
    text = open(path, encoding="utf-8").read() if os.path.exists(path) else None
    if text is None:
        raise mt.MoetError(f"{path}: cannot read the config")
    doc = mt.config._toml.loads(text)
    for s in sets:
        key, eq, value = s.partition("=")
        if not eq or key.count(".") < 1:
            raise mt.MoetError(f"--set {s}: expected section.key=value")
        try:
            parsed = mt.config._toml.loads(f"v = {value}")["v"]
        except mt.config._toml.TOMLDecodeError:
            parsed = value
        *sections, leaf = key.split(".")
        node = doc
        for sec in sections:
            node = node.setdefault(sec, {})
        node[leaf] = parsed
    return mt.config_from_dict(doc, path)


class Run:
    """The training loop of src/train/trainer.cpp, in PyTorch."""

    def __init__(self, args):
        self.args = args
        self.out = args.out
        # A resumed run keeps its own config, as `moet train --resume` does; --set still applies.
        stored = os.path.join(self.out, "config.toml")
        self.config_path = stored if args.resume and os.path.exists(stored) else args.config
        self.cfg = load_run_config(self.config_path, args.set)
        self.device = torch.device(args.device)
        tr = self.cfg.train
        if tr["precision"] != "fp32":
            raise mt.MoetError(f"train.precision: this example trains in fp32 (got "
                               f"{tr['precision']})")
        if tr["threads"] > 0:
            torch.set_num_threads(int(tr["threads"]))
        train, val = mt.open_splits(self.cfg.data)
        T = self.cfg.model.seq
        self.train_loader = mt.BatchLoader(train, False, tr["batch"], T, tr["seed"])
        self.val_loader = mt.BatchLoader(val, True, tr["batch"], T, tr["seed"])
        self.steps = tr["steps"]
        self.tokens_per_step = tr["batch"] * tr["accum"] * T
        self.step, self.first_loss, self.smoothed = 0, math.nan, math.nan
        self.interval_loss, self.interval_steps = 0.0, 0
        self.result = {"train_loss": math.nan, "val_loss": math.nan, "tokens_per_s": math.nan}

        resume = args.resume and os.path.exists(os.path.join(self.out, "latest"))
        if resume:
            self.model, groups, ckpt = mt.load_model(self.out, device=self.device)
            self.table_json = ckpt.parameterization
        else:
            table = resolve_table(self.config_path, args.set, args.table)
            self.model = mt.MoETransformer(self.cfg.model).to(self.device)
            gen = torch.Generator(device=self.device).manual_seed(int(tr["seed"]))
            groups = mt.apply(self.model, table, generator=gen)
            self.table_json = table.raw
        vocab = max(int(s.max()) for s in train + val if len(s)) + 1
        if vocab > self.cfg.model.vocab:
            raise mt.MoetError(f"model.vocab: {self.cfg.model.vocab} is smaller than the data's "
                               f"vocabulary ({vocab})")
        self.optimizer = mt.make_optimizer(groups, self.cfg.optim)
        self.optimizer_steps = 0
        if resume:
            self.restore(ckpt)
        self.scheduler = mt.make_scheduler(self.optimizer, self.cfg.optim, self.steps,
                                           start_step=self.step)

    def restore(self, ckpt):
        if ckpt.step > self.steps:
            raise mt.MoetError(f"train.steps: {self.steps} does not go past the checkpoint at "
                               f"step {ckpt.step} in {self.out}")
        mt.load_optimizer_state(self.optimizer, ckpt)
        self.optimizer_steps = ckpt.optimizer_steps
        s = ckpt.state
        self.train_loader.restore(s["train_loader"], f"{ckpt.path}/state.json: train_loader")
        num = lambda k: math.nan if s.get(k) is None else float(s[k])  # noqa: E731
        self.step = ckpt.step
        self.first_loss, self.smoothed = num("first_loss"), num("smoothed_loss")
        self.interval_loss, self.interval_steps = num("interval_loss"), int(s["interval_steps"])
        self.result = {k: num(k) for k in self.result}

    def write_json(self, name, value):
        mt.safetensors.write_atomic(os.path.join(self.out, name),
                                    (json.dumps(mt.checkpoint._finite(value), indent=1,
                                                sort_keys=True) + "\n").encode())

    def write_status(self, status):
        self.write_json("status.json", dict(status, version=RUN_FILES_VERSION))

    def evaluate(self):
        self.model.eval()
        self.val_loader.reset()
        n = max(1, min(self.cfg.train["eval_batches"], self.val_loader.batches_per_pass()))
        total = 0.0
        with torch.no_grad():
            for _ in range(n):
                x, y = (t.to(self.device) for t in self.val_loader.next())
                total += self.model(x, y).loss.item()
        for layer in self.model.moe_layers():  # validation is not part of the step's loads
            layer.counts.zero_()
            layer.counted_tokens = 0
        self.model.train()
        return total / n

    def train_step(self):
        accum = self.cfg.train["accum"]
        self.optimizer.zero_grad(set_to_none=True)
        loss = aux = z = 0.0
        for _ in range(accum):
            x, y = (t.to(self.device) for t in self.train_loader.next())
            out = self.model(x, y)
            ((out.loss + out.aux_loss + out.z_loss) / accum).backward()
            loss += out.loss.item() / accum
            aux += float(out.aux_loss) / accum
            z += float(out.z_loss) / accum
        grad_norm = mt.clip_gradients(self.model.parameters(), self.cfg.optim.clip)
        factor = mt.lr_factor(self.cfg.optim, self.step, self.steps)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer_steps += 1
        routing = [dict(layer=l, **b.moe.routing_stats())
                   for l, b in enumerate(self.model.blocks) if b.is_moe]
        self.model.balance()
        return loss, aux, z, grad_norm, factor, routing

    def save(self, final):
        first, second = mt.optimizer_moments(self.model, self.optimizer)
        state = {"train_loader": self.train_loader.state(), "first_loss": self.first_loss,
                 "smoothed_loss": self.smoothed, "interval_loss": self.interval_loss,
                 "interval_steps": self.interval_steps, "final": final, **self.result}
        mt.save_checkpoint(self.out, self.step, self.model, mt.config_to_toml(self.cfg),
                           self.table_json, first, second, self.optimizer_steps, state)

    def open_metrics(self, keep_through):
        path = os.path.join(self.out, "metrics.jsonl")
        kept = []
        if keep_through >= 0 and os.path.exists(path):
            for line in open(path, encoding="utf-8"):
                try:
                    if json.loads(line).get("step", -1) <= keep_through:
                        kept.append(line if line.endswith("\n") else line + "\n")
                except json.JSONDecodeError:
                    pass  # a line cut short by a kill
        mt.safetensors.write_atomic(path, "".join(kept).encode())
        return open(path, "a", encoding="utf-8")

    def run(self):
        tr, os_ = self.cfg.train, self.cfg.optim
        os.makedirs(self.out, exist_ok=True)
        with open(os.path.join(self.out, "config.toml"), "w", encoding="utf-8") as f:
            f.write(mt.config_to_toml(self.cfg))
        self.write_json("parameterization.json", self.table_json)
        metrics = self.open_metrics(self.step if self.step > 0 else -1)
        self.write_status({"status": "running", "step": self.step})
        start, first_step, status = time.time(), self.step, "done"
        while self.step < self.steps:
            loss, aux, z, grad_norm, factor, routing = self.train_step()
            self.step += 1
            if math.isnan(self.first_loss):
                self.first_loss = self.smoothed = loss
            self.smoothed = 0.9 * self.smoothed + 0.1 * loss
            self.interval_loss += loss
            self.interval_steps += 1
            diverged = not math.isfinite(loss) or not math.isfinite(grad_norm) or (
                self.step > 10 and self.smoothed > tr["diverge_factor"] * self.first_loss)
            log_now = self.step % tr["log_every"] == 0 or self.step == self.steps or diverged
            eval_now = not diverged and ((tr["eval_every"] > 0 and
                                          self.step % tr["eval_every"] == 0) or
                                         self.step == self.steps)
            if log_now or eval_now:
                tps = self.tokens_per_step * (self.step - first_step) / (time.time() - start)
                line = {"step": self.step, "tokens": self.step * self.tokens_per_step,
                        "loss": loss, "aux_loss": aux, "z_loss": z, "lr": os_.lr * factor,
                        "grad_norm": grad_norm, "tokens_per_s": tps}
                if routing:
                    line["routing"] = routing
                self.result["train_loss"] = self.interval_loss / self.interval_steps
                self.interval_loss, self.interval_steps = 0.0, 0
                if eval_now:
                    line["val_loss"] = self.result["val_loss"] = self.evaluate()
                metrics.write(json.dumps(mt.checkpoint._finite(line), sort_keys=True) + "\n")
                metrics.flush()
                self.result["tokens_per_s"] = tps
                if not self.args.quiet:
                    val = self.result["val_loss"]
                    print(f"step {self.step}/{self.steps} loss {self.result['train_loss']:.4f} "
                          f"val {'-' if math.isnan(val) else f'{val:.4f}'} {tps:.0f} tok/s",
                          flush=True)
            if diverged:
                status = "diverged"
                print(f"diverged at step {self.step}: loss {loss} (first {self.first_loss:.4f})",
                      file=sys.stderr)
                break
            if self.args.stop_after and self.step >= self.args.stop_after \
                    and self.step < self.steps:
                status = "stopped"
                break
            if tr["save"] and tr["ckpt_every"] > 0 and self.step % tr["ckpt_every"] == 0 \
                    and self.step < self.steps:
                self.save(False)
        metrics.close()
        if status == "stopped" or (tr["save"] and status == "done"):
            self.save(status == "done")
        self.write_status({"status": status, "steps": self.step, **self.result})
        return 3 if status == "diverged" else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, help="moet config (TOML)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set model.N=64 (repeatable)")
    p.add_argument("--table", help="parameterization JSON (default: run `moet params`)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint in --out (moet's or this script's), with "
                        "the run's config.toml; --set overrides are not checked as moet's are")
    p.add_argument("--stop-after", type=int, default=0,
                   help="stop with a checkpoint after this many steps (status 'stopped')")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    try:
        if args.device == "cuda" and not torch.cuda.is_available():
            raise mt.MoetError("--device cuda: PyTorch sees no CUDA device")
        sys.exit(Run(args).run())
    except mt.MoetError as e:
        print(f"train.py: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
