"""GPU workers: which workers of a cluster have a GPU, and starting one per visible GPU.

A task that asks for a Dask resource no worker has waits forever (dask/distributed#8256), so a
net's task carries ``{"GPU": 1}`` only while some worker advertises that resource
(:func:`gpu_workers`, re-read as workers join and leave); otherwise it runs on the CPU workers,
on device ``cpu``, with one warning (:func:`warn_no_gpu`).

``Runner(gpus=...)`` starts, beside the local cluster's CPU workers, one single-threaded worker
process per GPU with ``resources={"GPU": 1}`` and ``CUDA_VISIBLE_DEVICES`` pinned to its device,
as dask-cuda's ``LocalCUDACluster`` starts its workers; unlike it, they join the CPU workers'
scheduler, so the prefix and the nets of one search are one cluster. That cluster does no work
stealing: with it, Dask moved CPU nodes onto the GPU workers when their own worker was busy (the
Runner balances the workers itself, ``_dispatch``). On any other cluster,
start GPU workers with ``dask worker SCHEDULER --resources GPU=1 --nthreads 1`` (one per GPU,
``CUDA_VISIBLE_DEVICES`` set for each), and turn stealing off to keep their thread for nets
(``distributed.scheduler.work-stealing: False``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from collections.abc import Mapping
from typing import Any

__all__ = ["add_gpu_workers", "check_gpus", "gpu_workers", "visible_gpus", "warn_no_gpu"]


def visible_gpus() -> list[str]:
    """The CUDA devices this process may use, as ``CUDA_VISIBLE_DEVICES`` entries: none without
    an NVIDIA driver (checked before torch is imported), else as torch or nvidia-smi count them."""
    if not os.path.exists("/dev/nvidiactl") and shutil.which("nvidia-smi") is None:
        return []
    try:
        import torch

        n = torch.cuda.device_count()
    except ImportError:
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
            n = sum(line.startswith("GPU ") for line in out.stdout.splitlines())
        except (OSError, subprocess.SubprocessError):
            n = 0
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [d.strip() for d in env.split(",") if d.strip()] if env else [str(i) for i in range(n)]
    return ids[:n]


def check_gpus(gpus: Any) -> None:
    """Raise, naming the parameter, unless ``gpus`` is ``"auto"`` or an int >= 0."""
    if not (isinstance(gpus, str) and gpus == "auto") and (
            isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0):
        raise ValueError(
            "The 'gpus' parameter of Runner must be 'auto' (a worker per visible GPU), an int "
            f">= 0 (that many of them) or 0 (none). Got {gpus!r} instead.")


def devices_for(gpus: Any) -> list[str]:
    """The devices to start GPU workers on for ``Runner(gpus=gpus)``."""
    if gpus == 0:
        return []
    visible = visible_gpus()
    if gpus == "auto":
        return visible
    if gpus > len(visible):
        raise ValueError(
            f"The 'gpus' parameter of Runner asks for {gpus} GPU workers, but this machine has "
            f"{len(visible)} visible CUDA devices. Pass 'auto' or at most {len(visible)}.")
    return visible[:gpus]


def add_gpu_workers(cluster: Any, client: Any, devices: list[str]) -> None:
    """Start one GPU worker per device in ``cluster`` (a ``LocalCluster``) and wait for them."""
    from distributed import Nanny

    base = dict(cluster.new_spec.get("options", {}))
    for dev in devices:
        options = {**base, "nthreads": 1, "resources": {"GPU": 1},
                   "env": {**base.get("env", {}), "CUDA_VISIBLE_DEVICES": dev}}
        cluster.worker_spec[f"gpu-{dev}"] = {"cls": Nanny, "options": options}
    cluster.scale(len(cluster.worker_spec))
    client.wait_for_workers(len(cluster.worker_spec))


def gpu_workers(info: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The workers of ``scheduler_info()["workers"]`` that advertise a GPU resource."""
    return {w for w, i in info.items() if (i.get("resources") or {}).get("GPU", 0) >= 1}


def warn_no_gpu(stage: str, where: str) -> None:
    warnings.warn(
        f"Stage {stage!r} asks for a GPU (device='cuda'), but {where}: its nodes run on CPU, "
        "on device 'cpu'. Start GPU workers with Runner(gpus='auto'), or on another cluster "
        "with `dask worker --resources GPU=1 --nthreads 1`.", RuntimeWarning, stacklevel=2)
