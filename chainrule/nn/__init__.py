"""chainrule.nn: modules (layers and networks), their functional forms, losses and initialisers."""

from chainrule.nn import (
    functional,
    init,
    modules,
    parallel,
    parameter,
    utils,
)
from chainrule.nn.activation import (
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
)
from chainrule.nn.attention import MultiheadAttention
from chainrule.nn.containers import ModuleDict, ModuleList, Sequential
from chainrule.nn.conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from chainrule.nn.dropout import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d
from chainrule.nn.embedding import Embedding, EmbeddingBag
from chainrule.nn.fold import Fold, Unfold
from chainrule.nn.linear import Flatten, Identity, Linear, Unflatten
from chainrule.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    CTCLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    MultiLabelMarginLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    NLLLoss,
    PoissonNLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    TripletMarginLoss,
)
from chainrule.nn.module import Module, Parameter
from chainrule.nn.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
    LocalResponseNorm,
    RMSNorm,
)
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
from chainrule.nn.pixelshuffle import PixelShuffle, PixelUnshuffle
from chainrule.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    LPPool1d,
    LPPool2d,
    LPPool3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
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
    "Dropout", "Embedding", "EmbeddingBag", "Flatten", "Identity", "Linear", "Residual",
    "GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell",
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm",
    "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "Upsample",
    "MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
    "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "LPPool1d", "LPPool2d", "LPPool3d",
    "UpsamplingNearest2d", "UpsamplingBilinear2d",
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ReflectionPad1d",
    "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d",
    "CircularPad1d", "CircularPad2d", "CircularPad3d", "Unflatten",
    # losses
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "L1Loss", "MSELoss", "NLLLoss",
    "SmoothL1Loss",
    "CosineEmbeddingLoss", "CTCLoss", "GaussianNLLLoss", "HingeEmbeddingLoss", "KLDivLoss", "MarginRankingLoss",
    "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss", "PoissonNLLLoss", "SoftMarginLoss",
    "TripletMarginLoss",
    # activations
    "ELU", "GELU", "LeakyReLU", "LogSoftmax", "ReLU", "Sigmoid", "Softmax", "Softplus", "Tanh",
    # namespaces
    "functional", "init", "utils",
]  # fmt: skip

# nn.modules, nn.parameter and nn.parallel: PyTorch's paths (nn.modules.linear.Linear is nn.Linear)
__all__ += ["AlphaDropout", "DataParallel", "Dropout1d", "Dropout2d", "Dropout3d", "modules", "parallel", "parameter"]
__all__ += ["Conv3d", "ConvTranspose1d", "ConvTranspose3d", "Fold", "Unfold", "PixelShuffle", "PixelUnshuffle"]
__all__ += [  # issue 18's normalisations and activations
    "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LocalResponseNorm", "RMSNorm",
    "CELU", "GLU", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh", "LogSigmoid", "Mish", "PReLU", "ReLU6",
    "SELU", "SiLU", "Softmin", "Softshrink", "Softsign", "Tanhshrink", "Threshold",
]  # fmt: skip
# issue 18: attention and transformers
__all__ += ["MultiheadAttention", "Transformer", "TransformerDecoder", "TransformerDecoderLayer",
            "TransformerEncoder", "TransformerEncoderLayer"]  # fmt: skip
