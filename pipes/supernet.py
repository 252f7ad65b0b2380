"""Weight-sharing supernets: every architecture of a cell space is one path through one network.

A supernet holds, on every edge of its cells, a module for every operation, so that an
architecture (:class:`dagreuse.pipes.space.Arch`, one operation per edge) is a choice of path and
all architectures share the weights of the operations they have in common. Training the supernet
once, one architecture per minibatch, then stands in for training every candidate (thesis ch. 5):
in dagreuse that training is a chain of checkpoint nodes, the shared prefix of a search.

**The protocol** a weight-sharing search needs from a supernet (bring your own by writing these
three methods on a ``torch.nn.Module``):

* ``forward(x, arch, activation=None)``: logits, computing *only* the active path of ``arch`` —
  a ``none`` edge is skipped, not multiplied by zero, and so is an edge that no path from the
  cell's input to its output goes through (its contribution is zero by construction);
* ``touched(arch) -> set[str]``: the names of the parameters that path uses (any other gets no
  gradient from a step on ``arch``);
* ``extract(arch) -> nn.Module``: a stand-alone copy whose ``forward(x)`` equals
  ``forward(x, arch)``, holding only the touched parameters.

:class:`Supernet` implements it for NAS-Bench-201's space: a 3x3 convolution stem; three stages
of ``cells_per_stage`` cells with ``channels``, 2x and 4x channels, joined by two ResNet basic
blocks of stride 2; batch norm, the activation, global average pooling and a linear head. A cell
has ``nodes`` nodes (4: 6 edges); node ``j`` sums the operations of its edges from every ``i <
j``; the last node is the cell's output. ``conv_*`` operations are activation-conv-BN, as NB201's
ReLU-conv-BN with the activation a parameter (``relu``, ``hardswish``, ``mish``); ``avg_pool_3x3``
does not count padding. **Batch norm** in a supernet, as in the NB201 reference's search: the
cells' without affine parameters, every one normalising with its batch's statistics (no running
statistics: what they would average mixes architectures); a stand-alone network
(``search=False``, what a winner is retrained as) has affine batch norm with running statistics.

The network is in ``_nb201``, its training loops (:class:`SupernetTrainer`, :class:`CellNet`) in
``_ws_train``, AutoHAS's (:class:`AutoHASTrainer`) in ``_autohas``; this module is their public
face. torch is imported with it: import it only where
torch is installed.
"""

from ._autohas import AutoHASTrainer
from ._nb201 import ACTIVATIONS, Supernet, active_edges
from ._ws_train import Average, CellNet, FinetuneTrainer, SupernetTrainer, one_thread

__all__ = ["ACTIVATIONS", "AutoHASTrainer", "Average", "CellNet", "FinetuneTrainer", "Supernet",
           "SupernetTrainer", "active_edges", "one_thread"]
