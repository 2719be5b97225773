"""Write the learner notebooks of docs/mistakes/notebooks/: one planted mistake (or none) each.

They are written as learners write this chapter's exercise, in many styles: top-level loops
on globals, a train(epochs) that reads globals, free names for the loss and the optimizer,
nn.Parameter or nn.Linear, device code, %pip cells, several loops in one notebook, cells out
of order. tests/notebooks/ runs every one and checks the verdict each was written for.

    python scripts/learner_notebooks.py      # rewrites docs/mistakes/notebooks/*.ipynb
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _chapter_cells import CHAPTER

OUT = Path(__file__).resolve().parents[1] / "docs" / "mistakes" / "notebooks"

IMPORTS = "import torch\nfrom torch import nn\n"
DATA = """weight, bias = 0.3, 0.9
X = torch.arange(0, 1, 0.01).unsqueeze(dim=1)
y = weight * X + bias
split = int(0.8 * len(X))
X_train, y_train = X[:split], y[:split]
X_test, y_test = X[split:], y[split:]
len(X_train), len(X_test)"""
MODEL = """class LinearRegressionModelV2(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear_layer = nn.Linear(in_features=1, out_features=1)

    def forward(self, x):
        return self.linear_layer(x)"""
PARAM_MODEL = """class LinearRegressionModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.weights = nn.Parameter(torch.randn(1, requires_grad=True))
        self.bias = nn.Parameter(torch.randn(1, requires_grad=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weights * x + self.bias"""
BUILD = """torch.manual_seed(42)
model_1 = LinearRegressionModelV2()
loss_fn = nn.L1Loss()
optimizer = torch.optim.SGD(model_1.parameters(), lr=0.01)"""


def loop(train: str = "", test: str = "", epochs: int = 300, model: str = "model_1",
         loss: str = "loss_fn", opt: str = "optimizer") -> str:  # fmt: skip
    """The exercise's loop, with `train` or `test` replacing its training or test lines."""
    train = (
        train
        or f"""    {model}.train()
    y_pred = {model}(X_train)
    loss = {loss}(y_pred, y_train)
    {opt}.zero_grad()
    loss.backward()
    {opt}.step()"""
    )
    test = (
        test
        or f"""    {model}.eval()
    with torch.inference_mode():
        test_pred = {model}(X_test)
        test_loss = {loss}(test_pred, y_test)
    if epoch % 20 == 0:
        print(f"Epoch: {{epoch}} | Train loss: {{loss:.4f}} | Test loss: {{test_loss:.4f}}")"""
    )
    return f"epochs = {epochs}\nfor epoch in range(epochs):\n{train}\n{test}"


SAVE = """from pathlib import Path
MODEL_PATH = Path("models")
MODEL_PATH.mkdir(parents=True, exist_ok=True)
MODEL_SAVE_PATH = MODEL_PATH / "01_pytorch_workflow_model_1.pth"
torch.save(obj=model_1.state_dict(), f=MODEL_SAVE_PATH)
loaded_model_1 = LinearRegressionModelV2()
loaded_model_1.load_state_dict(torch.load(MODEL_SAVE_PATH))
loaded_model_1.eval()
with torch.inference_mode():
    loaded_preds = loaded_model_1(X_test)
    y_preds = model_1(X_test)
print(torch.equal(loaded_preds, y_preds))"""


def exercise(**changes: str) -> list[str]:
    """The exercise notebook, cell by cell; a keyword replaces that cell."""
    cells = {"imports": IMPORTS, "data": DATA, "model": MODEL, "build": BUILD, "loop": loop(),
             "save": SAVE}  # fmt: skip
    cells.update(changes)
    return [c for c in cells.values() if c]


NOTEBOOKS: dict[str, list[str]] = {
    "chapter": CHAPTER,
    "exercise_linear": exercise(),
    "exercise_parameter_device": [
        "%pip install torch matplotlib",
        "import torch\nfrom torch import nn\nimport matplotlib.pyplot as plt\n%matplotlib inline",
        'device = "cuda" if torch.cuda.is_available() else "cpu"\nprint(f"Using device: {device}")',
        DATA.replace(
            "X_test, y_test = X[split:], y[split:]",
            "X_test, y_test = X[split:], y[split:]\n"
            "X_train, y_train = X_train.to(device), y_train.to(device)\n"
            "X_test, y_test = X_test.to(device), y_test.to(device)",
        ),
        PARAM_MODEL,
        "torch.manual_seed(42)\nmodel_0 = LinearRegressionModel().to(device)\n"
        "criterion = nn.L1Loss()\noptim = torch.optim.SGD(params=model_0.parameters(), lr=0.01)",
        "from tqdm.auto import tqdm\ntrain_losses, test_losses = [], []\n"
        "for epoch in tqdm(range(300)):\n    model_0.train()\n    y_pred = model_0(X_train)\n"
        "    loss = criterion(y_pred, y_train)\n    optim.zero_grad()\n    loss.backward()\n"
        "    optim.step()\n    model_0.eval()\n    with torch.no_grad():\n"
        "        test_loss = criterion(model_0(X_test), y_test)\n"
        "    train_losses.append(loss.item())\n    test_losses.append(test_loss.item())",
        "plt.plot(train_losses, label='train')\nplt.plot(test_losses, label='test')\nplt.legend()\nplt.show()",
        "with torch.inference_mode():\n    preds = model_0(X_test)\n"
        "plt.scatter(X_test.cpu(), y_test.cpu())\nplt.scatter(X_test.cpu(), preds.cpu().numpy())",
    ],
    "train_function_globals": [
        "import torch\nimport torch.nn as nn\nimport numpy as np",
        "X = torch.arange(0, 1, 0.01)\ny = 0.3 * X + 0.9\nn = int(len(X) * 0.8)\n"
        "Xtr, ytr, Xte, yte = X[:n], y[:n], X[n:], y[n:]",
        PARAM_MODEL,
        "torch.manual_seed(42)\nmodel = LinearRegressionModel()\nloss_func = nn.L1Loss()\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.01)",
        "def train(epochs):\n    history = []\n    for epoch in range(epochs):\n        model.train()\n"
        "        loss = loss_func(model(Xtr), ytr)\n        opt.zero_grad()\n        loss.backward()\n"
        "        opt.step()\n        if epoch % 20 == 0:\n            model.eval()\n"
        "            with torch.inference_mode():\n                test = loss_func(model(Xte), yte)\n"
        "            history.append((epoch, loss.detach().numpy(), test.numpy()))\n    return history",
        "hist = train(300)\nprint(hist[-1])",
    ],
    "two_models": [
        IMPORTS + "import matplotlib.pyplot as plt",
        DATA,
        PARAM_MODEL,
        "torch.manual_seed(42)\nmodel_0 = LinearRegressionModel()\nloss_fn = nn.L1Loss()\n"
        "optimizer = torch.optim.SGD(model_0.parameters(), lr=0.01)",
        loop(model="model_0", epochs=100),
        PARAM_MODEL,  # the same class, defined again
        MODEL,
        "torch.manual_seed(42)\nmodel_1 = LinearRegressionModelV2()\n"
        "optimizer = torch.optim.Adam(model_1.parameters(), lr=0.01)",
        loop(epochs=200),
    ],
    "own_data_noisy": [
        "import torch\nfrom torch import nn",
        "torch.manual_seed(0)\nX = torch.rand(1000, 1) * 2\ny = 0.3 * X + 0.9 + 0.05 * torch.randn(1000, 1)\n"
        "perm = torch.randperm(1000)\ntrain_idx, test_idx = perm[:800], perm[800:]\n"
        "X_train, y_train, X_test, y_test = X[train_idx], y[train_idx], X[test_idx], y[test_idx]",
        "torch.manual_seed(42)\nnet = nn.Sequential(nn.Linear(1, 1))\nloss_func = torch.nn.MSELoss()\n"
        "opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)",
        "for i in range(150):\n    net.train()\n    out = net(X_train)\n    l = loss_func(out, y_train)\n"
        "    opt.zero_grad(); l.backward(); opt.step()\n    if i % 10 == 0:\n        net.eval()\n"
        "        with torch.inference_mode():\n            print(i, l.item(), loss_func(net(X_test), y_test).item())",
    ],
    "mini_batches": [
        "import torch\nfrom torch import nn\nfrom torch.utils.data import DataLoader, TensorDataset",
        DATA,
        "torch.manual_seed(42)\nmodel = nn.Linear(1, 1)\nloss_fn = nn.L1Loss()\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.01)\n"
        "loader = DataLoader(TensorDataset(X_train, y_train), batch_size=16, shuffle=True,\n"
        "                    generator=torch.Generator().manual_seed(0))",
        "for epoch in range(30):\n    model.train()\n    for xb, yb in loader:\n"
        "        loss = loss_fn(model(xb), yb)\n        optimizer.zero_grad()\n        loss.backward()\n"
        "        optimizer.step()\n    model.eval()\n    with torch.inference_mode():\n"
        "        test_loss = loss_fn(model(X_test), y_test)",
    ],
    "settings_epochs_lr": exercise(
        build=BUILD.replace("lr=0.01", "lr=0.1"), loop=loop(epochs=1000)
    ),
    "settings_adam_mse": exercise(
        build="torch.manual_seed(42)\nmodel_1 = LinearRegressionModelV2()\nloss_fn = nn.MSELoss()\n"
        "optimizer = torch.optim.Adam(model_1.parameters(), lr=0.01)"
    ),
    "adam_steplr": exercise(
        build="torch.manual_seed(42)\nmodel_1 = LinearRegressionModelV2()\nloss_fn = nn.L1Loss()\n"
        "optimizer = torch.optim.Adam(model_1.parameters(), lr=0.05)\n"
        "scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=50, gamma=0.5)",
        loop=loop().replace("    model_1.eval()", "    scheduler.step()\n    model_1.eval()", 1),
    ),
    "no_seed": exercise(build=BUILD.replace("torch.manual_seed(42)\n", "")),
    "seed_after_model": exercise(
        build=BUILD.replace("torch.manual_seed(42)\n", "") + "\ntorch.manual_seed(42)"
    ),
    "cuda_seed_only": exercise(
        build=BUILD.replace("torch.manual_seed(42)", "torch.cuda.manual_seed(42)")
    ),
    "test_with_grad": exercise(
        loop=loop(test="    model_1.eval()\n    test_loss = loss_fn(model_1(X_test), y_test)")
    ),
    "test_on_train": exercise(
        loop=loop(
            test="    model_1.eval()\n    with torch.inference_mode():\n"
            "        test_loss = loss_fn(model_1(X_train), y_train)"
        )
    ),
    "eval_in_training": exercise(loop=loop().replace("    model_1.train()", "    model_1.eval()")),
    "no_zero_grad": exercise(loop=loop().replace("    optimizer.zero_grad()\n", "")),
    "zero_grad_after_backward": exercise(
        loop=loop(
            train="    model_1.train()\n    y_pred = model_1(X_train)\n"
            "    loss = loss_fn(y_pred, y_train)\n    loss.backward()\n    optimizer.zero_grad()\n    optimizer.step()"
        )
    ),
    "step_before_backward": exercise(
        loop=loop(
            train="    model_1.train()\n    y_pred = model_1(X_train)\n"
            "    loss = loss_fn(y_pred, y_train)\n    optimizer.zero_grad()\n    optimizer.step()\n    loss.backward()"
        )
    ),
    "wrong_parameters": exercise(
        build=BUILD.replace(
            "model_1 = LinearRegressionModelV2()",
            "model_0 = LinearRegressionModelV2()\nmodel_1 = LinearRegressionModelV2()",
        ).replace("SGD(model_1.parameters()", "SGD(model_0.parameters()")
    ),
    "sum_reduction": exercise(build=BUILD.replace("nn.L1Loss()", "nn.L1Loss(reduction='sum')")),
    "trained_on_test": exercise(
        loop=loop()
        .replace("model_1(X_train)", "model_1(X_test)")
        .replace("(y_pred, y_train)", "(y_pred, y_test)")
    ),
    "broadcast_shape": exercise(
        data=DATA.replace("y = weight * X + bias", "y = (weight * X + bias).squeeze()")
    ),
    "lr_too_large": exercise(
        data=DATA.replace("torch.arange(0, 1, 0.01)", "torch.arange(0, 10, 0.1)"),
        build="torch.manual_seed(42)\nmodel_1 = LinearRegressionModelV2()\nloss_fn = nn.MSELoss()\n"
        "optimizer = torch.optim.SGD(model_1.parameters(), lr=0.1)",
        loop=loop(epochs=50),
        save="",
    ),
    "written_loss": exercise(
        loop=loop().replace("loss_fn(y_pred, y_train)", "torch.mean(torch.abs(y_pred - y_train))")
    ),
    "device_dropped_to": exercise(
        imports=IMPORTS + 'device = "cuda" if torch.cuda.is_available() else "cpu"',
        data=DATA + "\nX_train.to(device)\ny_train.to(device)",
        build=BUILD.replace(
            "model_1 = LinearRegressionModelV2()", "model_1 = LinearRegressionModelV2().to(device)"
        ),
    ),
    "device_hard_coded": exercise(
        imports=IMPORTS + 'device = "cuda"',
        data=DATA + "\nX_train, y_train = X_train.to(device), y_train.to(device)",
    ),
    "device_is_available_uncalled": exercise(
        imports=IMPORTS + 'device = "cuda" if torch.cuda.is_available else "cpu"',
        data=DATA + "\nX_train, y_train = X_train.to(device), y_train.to(device)",
    ),
    "device_numpy": exercise(
        imports=IMPORTS + "import matplotlib.pyplot as plt\n"
        'device = "cuda" if torch.cuda.is_available() else "cpu"',
        build=BUILD.replace(
            "model_1 = LinearRegressionModelV2()", "model_1 = LinearRegressionModelV2().to(device)"
        ),
        data=DATA + "\nX_train, y_train = X_train.to(device), y_train.to(device)\n"
        "X_test, y_test = X_test.to(device), y_test.to(device)",
        save="with torch.inference_mode():\n    preds = model_1(X_test)\nplt.plot(X_test.cpu(), preds.numpy())",
    ),
    "device_mixed": exercise(
        imports=IMPORTS + 'device = "cuda" if torch.cuda.is_available() else "cpu"',
        data=DATA + "\nX_train, y_train = X_train.to(device), y_train.to(device)",
    ),
    "missing_package": exercise(
        imports=IMPORTS + "import seaborn as sns",
        save="sns.scatterplot(x=X_test[:, 0], y=y_test[:, 0])",
    ),
    "unused_missing_import": exercise(imports=IMPORTS + "import pandas as pd\nimport numpy as np"),
    "out_of_order": [IMPORTS, DATA, BUILD, MODEL, loop()],
    "input_prompt": exercise(
        loop="epochs = int(input('How many epochs? '))\n" + loop().split("\n", 1)[1]
    ),
    "error_after_training": exercise(
        save="print(model_1.state_dict())\nplot_predictions(predictions=y_preds)"
    ),
    "magics_and_shell": [
        "!nvidia-smi\n%matplotlib inline\nimport torch\nfrom torch import nn",
        DATA,
        MODEL,
        BUILD,
        "%%time\n" + loop(),
        "display(model_1.state_dict())\nfiles = !ls models\nmodel_1?",
    ],
    # For grading the exercise (tests/notebooks/test_class_grades.py): each plants a mistake
    # in one part of the exercise only.
    "part_data_line": exercise(
        data=DATA.replace("weight, bias = 0.3, 0.9", "weight, bias = 0.7, 0.3")
    ),
    "part_data_points": exercise(
        data=DATA.replace("torch.arange(0, 1, 0.01)", "torch.arange(0, 1, 0.02)")
    ),
    "part_predictions_with_grad": exercise(
        save=SAVE.replace(
            "with torch.inference_mode():\n    loaded_preds = loaded_model_1(X_test)\n    y_preds = model_1(X_test)",
            "loaded_preds = loaded_model_1(X_test)\ny_preds = model_1(X_test)",
        )
    ),
    "part_predictions_missing": exercise(
        save=SAVE.replace(
            "    y_preds = model_1(X_test)\nprint(torch.equal(loaded_preds, y_preds))",
            "print(loaded_preds[:3])",
        )
    ),
    "part_weights_only_off": exercise(
        save=SAVE.replace(
            "torch.load(MODEL_SAVE_PATH)", "torch.load(MODEL_SAVE_PATH, weights_only=False)"
        )
    ),
    "part_not_loaded": exercise(
        save=SAVE.replace("loaded_model_1.load_state_dict(torch.load(MODEL_SAVE_PATH))\n", "")
    ),
    "part_saved_untrained": exercise(
        save=SAVE.replace(
            "torch.save(obj=model_1.state_dict()",
            "torch.save(obj=LinearRegressionModelV2().state_dict()",
        ).replace(
            "loaded_model_1.load_state_dict(torch.load(MODEL_SAVE_PATH))",
            "loaded_model_1.load_state_dict(model_1.state_dict())",
        )
    ),
}


def notebook(cells: list[str]) -> dict[str, object]:
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell-{i}", "metadata": {},
                   "outputs": [], "source": c.splitlines(keepends=True)}
                  for i, c in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        (OUT / f"{name}.ipynb").write_text(json.dumps(notebook(cells), indent=1) + "\n")
    print(f"wrote {len(NOTEBOOKS)} notebooks to {OUT}")


if __name__ == "__main__":
    main()
