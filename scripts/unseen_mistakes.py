"""Plant a set of wrong answers the grader's checks were not written against, and count them.

    python scripts/unseen_mistakes.py                 # 3 seeds each
    python scripts/unseen_mistakes.py --seeds 10

Each mistake is a plausible slip in one task of the key, written down before the checks were
next changed, and never tuned to them. A mistake is caught when its task FAILs on every seed.
The figure this prints is the one docs/exercises.md reports. Exits 0 either way: it measures.
"""

from __future__ import annotations

import argparse
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from compare.exercises.grade import grade_tasks
from compare.exercises.scaffold import new_copy
from compare.exercises.scan import torch_imports
from compare.sandbox import Limits
from compare.sandbox_tasks import Pool

# name: (task, file under the copy, old text, new text)
UNSEEN: dict[str, tuple[int, str, str, str]] = {
    "data: train and test swapped": (1, "manual/data.py", "X_train=X[:n_train],\n        y_train=y[:n_train],\n        X_test=X[n_train:],\n        y_test=y[n_train:],", "X_train=X[len(X) - n_train:],\n        y_train=y[len(X) - n_train:],\n        X_test=X[:len(X) - n_train],\n        y_test=y[:len(X) - n_train],"),
    "data: extra features on [0, 1] whatever the range": (1, "manual/data.py", "rng.uniform(start, end, size=(x0.size, features - 1))", "rng.uniform(0, 1, size=(x0.size, features - 1))"),
    "data: noise scaled by its square root": (1, "manual/data.py", "(noise * rng.standard_normal(y.shape))", "(noise**0.5 * rng.standard_normal(y.shape))"),
    "forward: the first feature only": (2, "manual/model.py", "pred: np.ndarray = X @ w[:, None] + b", "pred: np.ndarray = X[:, :1] * w[0] + b"),
    "mse: the residual's size, not its sign": (3, "manual/losses.py", "dresid: np.ndarray = (2.0 / resid.size) * resid", "dresid: np.ndarray = (2.0 / resid.size) * np.abs(resid)"),
    "l1: small residuals rounded to zero": (4, "manual/losses.py", "dresid: np.ndarray = np.sign(resid) / resid.size", "dresid: np.ndarray = np.sign(np.round(resid, 3)) / resid.size"),
    "huber: δ taken as 1": (5, "manual/losses.py", "np.clip(resid, -delta, delta)", "np.clip(resid, -1.0, 1.0)"),
    "backward: |dpred| in dw": (6, "manual/gradients.py", "dw = (X.T @ dpred)[:, 0]", "dw = (X.T @ np.abs(dpred))[:, 0]"),
    "sgd_update: float32 always": (7, "manual/optim/sgd.py", "return theta - lr * direction", "return (theta - lr * direction).astype(np.float32)"),
    "sgd: nesterov without the gradient": (8, "manual/optim/sgd.py", "g = g + opt.momentum * buf if opt.nesterov else buf", "g = opt.momentum * buf if opt.nesterov else buf"),
    "sgd: weight decay after momentum": (8, "manual/optim/sgd.py", "    g = -grad if opt.maximize else grad\n    if opt.weight_decay != 0:\n        g = g + opt.weight_decay * theta\n    if opt.momentum != 0:\n        buf = g.copy() if buf is None else opt.momentum * buf + (1 - opt.dampening) * g\n        g = g + opt.momentum * buf if opt.nesterov else buf\n", "    g = -grad if opt.maximize else grad\n    if opt.momentum != 0:\n        buf = g.copy() if buf is None else opt.momentum * buf + (1 - opt.dampening) * g\n        g = g + opt.momentum * buf if opt.nesterov else buf\n    if opt.weight_decay != 0:\n        g = g + opt.weight_decay * theta\n"),
    "loop: the test loss before the epoch's steps": (9, "manual/train.py", "        batch_losses = []\n        for rows in batches(len(X_train), batch_size, order):\n            batch_loss, dw, db = gradients(X_train[rows], y_train[rows], w, b, loss)\n            (w, b), state = step((w, b), (dw, db), state, opt)\n            batch_losses.append(batch_loss)\n        test_loss = loss.value(forward(X_test, w, b), y_test)\n", "        test_loss = loss.value(forward(X_test, w, b), y_test)\n        batch_losses = []\n        for rows in batches(len(X_train), batch_size, order):\n            batch_loss, dw, db = gradients(X_train[rows], y_train[rows], w, b, loss)\n            (w, b), state = step((w, b), (dw, db), state, opt)\n            batch_losses.append(batch_loss)\n"),
    "exercise: 299 epochs": (11, "manual/exercise.py", "EXERCISE.epochs,", "EXERCISE.epochs - 1,"),
    "adam: m without (1 - β1)": (12, "manual/optim/adam.py", "m = beta1 * m + (1 - beta1) * g", "m = beta1 * m + g"),
    "adam: ε before the bias correction": (12, "manual/optim/adam.py", "            denom = np.sqrt(v) / bias_correction2_sqrt + opt.eps", "            denom = (np.sqrt(v) + opt.eps) / bias_correction2_sqrt"),
    "adamw: decay after the step": (12, "manual/optim/adam.py", "        theta = theta - step_size * (m / denom)\n", "        theta = theta - step_size * (m / denom)\n        if opt.weight_decay != 0 and opt.decoupled:\n            theta = theta * (1 - opt.lr * opt.weight_decay) / (1 - opt.lr * opt.weight_decay) ** 2\n"),
    "torch build: lr fixed at 0.01": (13, "torch_impl/train.py", "optimizer = torch.optim.SGD(params=model.parameters(), lr=lr)", "optimizer = torch.optim.SGD(params=model.parameters(), lr=0.01)"),
    "torch step: two steps": (14, "torch_impl/train.py", "    optimizer.step()  # 5. gradient descent: θ ← θ - lr·∇θ\n", "    optimizer.step()  # 5. gradient descent: θ ← θ - lr·∇θ\n    optimizer.step()\n"),
    "predict: a NumPy array": (15, "torch_impl/train.py", "        pred: torch.Tensor = model(X)\n    return pred", "        pred: torch.Tensor = model(X)\n    return pred.numpy()"),
    "predict: train mode left on afterwards": (15, "torch_impl/train.py", "    model.eval()  # layers such as dropout behave as at test time\n    with torch.inference_mode():  # no graph: nothing here will be differentiated\n        pred: torch.Tensor = model(X)\n", "    with torch.inference_mode():  # no graph: nothing here will be differentiated\n        pred: torch.Tensor = model(X)\n    model.train()\n"),
}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        copies = {}
        for i, (name, (task, file, old, new)) in enumerate(UNSEEN.items()):
            dest = Path(tmp) / f"m{i:02d}"
            new_copy(dest, with_solutions=True)
            path = dest / file
            text = path.read_text()
            if old not in text:
                raise SystemExit(f"{name}: the text to replace is not in {file}")
            path.write_text(text.replace(old, new, 1))
            copies[name] = (task, dest, torch_imports(dest))

        sandboxes = Pool(Limits(), hide=(Path(tmp),))  # a thread's sandboxes serve every copy

        def one(job: tuple[str, int]) -> tuple[str, bool]:
            name, seed = job
            task, dest, use = copies[name]
            (result,) = grade_tasks(dest, [task], seed, torch_use=use, pool=sandboxes)
            return name, not result.passed

        jobs = [(name, seed) for name in UNSEEN for seed in range(args.seeds)]
        try:
            with ThreadPoolExecutor(args.jobs) as pool:
                results = list(pool.map(one, jobs))
        finally:
            sandboxes.close()
    caught = {name: all(failed for n, failed in results if n == name) for name in UNSEEN}
    for name, ok in caught.items():
        print(f"{'caught' if ok else 'MISSED'}  task {UNSEEN[name][0]:>2}  {name}")
    print(
        f"{sum(caught.values())} of {len(caught)} unseen mistakes caught on all {args.seeds} seeds"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
