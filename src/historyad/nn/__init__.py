"""Networks: pure ``nn.Module`` generators, critics and encoders (no I/O, no optimisers).

The family follows the per-sample data shape: (D,) -> MLP, (C, T) -> 1-D conv,
(C, H, W) -> 2-D conv. Use :func:`build_generator`, :func:`build_critic`, :func:`build_encoder`.
Every public name of the submodules below is re-exported here (their ``__all__``).
"""

from historyad.nn import conv1d, conv2d, factory, mlp
from historyad.nn.conv1d import *  # noqa: F403
from historyad.nn.conv2d import *  # noqa: F403
from historyad.nn.factory import *  # noqa: F403
from historyad.nn.mlp import *  # noqa: F403

__all__ = [*conv1d.__all__, *conv2d.__all__, *factory.__all__, *mlp.__all__]
