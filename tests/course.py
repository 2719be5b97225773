"""The course chapter's printed output and its model classes: an independent reference."""

import torch
from torch import nn


class LinearRegressionModel(nn.Module):
    """The chapter's model_0, as its notebook defines it (no code from this project)."""

    def __init__(self):
        super().__init__()
        self.weights = nn.Parameter(torch.randn(1, dtype=torch.float), requires_grad=True)
        self.bias = nn.Parameter(torch.randn(1, dtype=torch.float), requires_grad=True)

    def forward(self, x):
        return self.weights * x + self.bias


class LinearRegressionModelV2(nn.Module):
    """The chapter's model_1, with nn.Linear."""

    def __init__(self):
        super().__init__()
        self.linear_layer = nn.Linear(in_features=1, out_features=1)

    def forward(self, x):
        return self.linear_layer(x)


# model_0 (nn.Parameter), torch.manual_seed(42), nn.L1Loss, SGD(lr=0.01): epoch -> (train, test)
MODEL_0_START = (0.3367, 0.1288)
MODEL_0_LOSSES = {
    0: (0.31288138031959534, 0.48106518387794495),
    10: (0.1976713240146637, 0.3463551998138428),
    20: (0.08908725529909134, 0.21729660034179688),
    30: (0.053148526698350906, 0.14464017748832703),
    40: (0.04543796554207802, 0.11360953003168106),
    50: (0.04167863354086876, 0.09919948130846024),
    60: (0.03818932920694351, 0.08886633068323135),
    70: (0.03476089984178543, 0.0805937647819519),
    80: (0.03132382780313492, 0.07232122868299484),
    90: (0.02788739837706089, 0.06473556160926819),
}
# state_dict() printed after epochs 0, 10, 20, 30 and after all 100.
MODEL_0_PARAMS = {
    0: (0.3406, 0.1388),
    10: (0.3796, 0.2388),
    20: (0.4184, 0.3333),
    30: (0.4512, 0.3768),
}
MODEL_0_FINAL = (0.5784, 0.3513)
MODEL_0_TEST_PREDICTIONS = [
    0.8141,
    0.8256,
    0.8372,
    0.8488,
    0.8603,
    0.8719,
    0.8835,
    0.8950,
    0.9066,
    0.9182,
]

# model_1 (nn.Linear), same loss and optimizer.
MODEL_1_START = (0.7645, 0.8300)
MODEL_1_LOSSES = {
    0: (0.5551779866218567, 0.5739762187004089),
    10: (0.4399680495262146, 0.4392663538455963),
    20: (0.3247582018375397, 0.30455657839775085),
    30: (0.20954827964305878, 0.16984674334526062),
    40: (0.09433844685554504, 0.03513689711689949),
    50: (0.023886386305093765, 0.04784906655550003),
    60: (0.0199567973613739, 0.04580312222242355),
    70: (0.016517987474799156, 0.0375305712223053),
    80: (0.013089170679450035, 0.029944902285933495),
    90: (0.009653178043663502, 0.02167237363755703),
    100: (0.006215679459273815, 0.014086711220443249),
    110: (0.002787243574857712, 0.005814164876937866),
    120: (0.0012645035749301314, 0.013801807537674904),
    190: (0.0012645035749301314, 0.013801807537674904),
}

# The data cells: X[:10] and y[:10], and the split sizes.
X_HEAD = [0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.14, 0.16, 0.18]
Y_HEAD = [0.3, 0.314, 0.328, 0.342, 0.356, 0.37, 0.384, 0.398, 0.412, 0.426]
SPLIT_SIZES = (40, 40, 10, 10)
