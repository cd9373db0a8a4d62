"""Muon written independently in PyTorch (float64), the oracle for tests/optim/muon_test.cpp.

Reads DIR/case.json (optimizer settings, tensors, initial weights and every step's gradients),
runs the steps and writes DIR/result.json with the final weights. The Newton-Schulz iteration is
the reference implementation's (K. Jordan's `zeropower_via_newtonschulz5`, in torch's [out, in]
orientation, batched over the expert axis), momentum and Nesterov are the reference's lerp form,
and the shape scale is left to the per-tensor LR, as moet's parameterization writes it. Tensors
that are not orthogonalised run torch.optim.AdamW. Exit status 3 when PyTorch is missing.
"""
import json
import sys

try:
    import torch
except ImportError:
    sys.exit(3)


def zeropower_via_newtonschulz5(G, steps):
    a, b, c = (3.4445, -4.7750, 2.0315)
    X = G.clone()
    if G.size(-2) > G.size(-1):
        X = X.mT
    X = X / (X.norm(dim=(-2, -1), keepdim=True) + 1e-7)
    for _ in range(steps):
        A = X @ X.mT
        B = b * A + c * A @ A
        X = a * X + B @ X
    if G.size(-2) > G.size(-1):
        X = X.mT
    return X


def orthogonalise(update, blocks, steps):
    """update is moet's [..., in, out]; torch's weight orientation is [..., out, in]."""
    halves = update.chunk(blocks, dim=-1)
    return torch.cat([zeropower_via_newtonschulz5(h.mT, steps).mT for h in halves], dim=-1)


def muon_step(w, g, buf, t, cfg, lr):
    mu = cfg["momentum"]
    buf.lerp_(g, 1 - mu)
    update = g.lerp(buf, mu) if cfg["nesterov"] else buf.clone()
    o = orthogonalise(update, t["column_blocks"], cfg["steps"])
    if not t["norm_preserved"]:
        w.mul_(1 - lr * t["wd"]).add_(o, alpha=-lr)
        return
    # MuonH: per matrix (per expert, per SwiGLU half), a step of lr relative to the matrix's norm,
    # then the matrix is put back on its sphere.
    ws, os_ = w.chunk(t["column_blocks"], dim=-1), o.chunk(t["column_blocks"], dim=-1)
    for wi, oi in zip(ws, os_):
        n = wi.norm(dim=(-2, -1), keepdim=True)
        step = oi * (n / oi.norm(dim=(-2, -1), keepdim=True))
        wi.mul_(1 - lr * t["wd"]).sub_(lr * step)
        wi.mul_(n / wi.norm(dim=(-2, -1), keepdim=True))


def main(directory):
    case = json.load(open(f"{directory}/case.json"))
    cfg = case["muon"]
    flat = torch.tensor(case["weights"], dtype=torch.float64)
    params, buffers, adamw = [], [], []
    for t in case["tensors"]:
        w = flat[t["offset"]:t["offset"] + t["numel"]].clone().view(t["shape"])
        params.append(w)
        buffers.append(torch.zeros_like(w))
        if t["trainable"] and not t["orthogonalised"]:
            p = torch.nn.Parameter(w)
            opt = torch.optim.AdamW([p], lr=t["lr"], betas=(case["beta1"], case["beta2"]),
                                    eps=t["eps"], weight_decay=t["wd"])
            adamw.append((len(params) - 1, p, opt))
            params[-1] = p
    for step in case["steps"]:
        grads = torch.tensor(step["grads"], dtype=torch.float64) * step["grad_scale"]
        for i, t in enumerate(case["tensors"]):
            if not t["trainable"]:
                continue
            g = grads[t["offset"]:t["offset"] + t["numel"]].view(t["shape"])
            lr = t["lr"] * step["lr_factor"]
            if t["orthogonalised"]:
                muon_step(params[i], g, buffers[i], t, cfg, lr)
        for i, p, opt in adamw:
            t = case["tensors"][i]
            p.grad = grads[t["offset"]:t["offset"] + t["numel"]].view(t["shape"]).clone()
            for group in opt.param_groups:
                group["lr"] = t["lr"] * step["lr_factor"]
            opt.step()
    out = torch.cat([p.detach().reshape(-1) for p in params])
    json.dump({"weights": out.tolist()}, open(f"{directory}/result.json", "w"))


if __name__ == "__main__":
    main(sys.argv[1])
