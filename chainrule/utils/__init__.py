"""PyTorch's ``torch.utils`` path: ``chainrule.utils.data`` holds the data sets, samplers and
DataLoader, so that ``from torch.utils.data import DataLoader`` reads the same under chainrule."""

from chainrule.utils import data
