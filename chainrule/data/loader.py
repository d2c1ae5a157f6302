"""The DataLoader and default_collate live in chainrule.utils.data.dataloader, at PyTorch's path;
imported here so that older imports (``chainrule.data.loader``) keep working."""

from chainrule.utils.data.dataloader import DataLoader, default_collate

__all__ = ["DataLoader", "default_collate"]
