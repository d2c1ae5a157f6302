"""chainrule.nn: modules (layers and networks), their functional forms, losses and initialisers."""

from chainrule.nn import (
    functional,
    init,
    modules,
    parallel,
    parameter,
    utils,
)
from chainrule.nn.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh
from chainrule.nn.attention import MultiheadAttention
from chainrule.nn.containers import ModuleDict, ModuleList, Sequential
from chainrule.nn.conv import Conv1d, Conv2d, ConvTranspose2d
from chainrule.nn.dropout import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d
from chainrule.nn.embedding import Embedding
from chainrule.nn.linear import Flatten, Identity, Linear, Unflatten
from chainrule.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from chainrule.nn.module import Module, Parameter
from chainrule.nn.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm
from chainrule.nn.padding import (
    CircularPad1d,
    CircularPad2d,
    CircularPad3d,
    ConstantPad1d,
    ConstantPad2d,
    ConstantPad3d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad1d,
    ReplicationPad2d,
    ReplicationPad3d,
    ZeroPad1d,
    ZeroPad2d,
    ZeroPad3d,
)
from chainrule.nn.parallel import DataParallel
from chainrule.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
    Upsample,
)
from chainrule.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from chainrule.nn.residual import Residual
from chainrule.nn.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = [
    # containers and base classes
    "Module", "ModuleDict", "ModuleList", "Parameter", "Sequential",
    # layers
    "Dropout", "Embedding", "Flatten", "Identity", "Linear", "Residual",
    "GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell",
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm",
    "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "Upsample",
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ReflectionPad1d",
    "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d",
    "CircularPad1d", "CircularPad2d", "CircularPad3d", "Unflatten",
    # losses
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "L1Loss", "MSELoss", "NLLLoss",
    "SmoothL1Loss",
    # activations
    "ELU", "GELU", "LeakyReLU", "LogSoftmax", "ReLU", "Sigmoid", "Softmax", "Softplus", "Tanh",
    # namespaces
    "functional", "init", "utils",
]  # fmt: skip

# nn.modules, nn.parameter and nn.parallel: PyTorch's paths (nn.modules.linear.Linear is nn.Linear)
__all__ += ["AlphaDropout", "DataParallel", "Dropout1d", "Dropout2d", "Dropout3d", "modules", "parallel", "parameter"]
# issue 18: attention and transformers
__all__ += ["MultiheadAttention", "Transformer", "TransformerDecoder", "TransformerDecoderLayer",
            "TransformerEncoder", "TransformerEncoderLayer"]  # fmt: skip
