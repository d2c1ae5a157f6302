"""The browser playground (``chainrule playground``): a local Starlette server whose page trains a
small network with chainrule live. ``config`` and ``session`` are plain Python; ``app`` needs the
``playground`` extra (pip install 'chainrule[playground]'), imported only when the server starts,
so ``import chainrule`` stays NumPy-only."""
