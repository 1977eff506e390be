"""Batch order that is repeatable, sharded across processes, and resumable mid-epoch.

Shuffling draws from a generator seeded by ``(seed, epoch)``, never from the global RNG, so a run's data
order depends only on its seed. Each index travels with its own augmentation seed, so augmentation is
identical whether a scene is loaded in the main process or in a worker, before or after a resume.
:class:`ResumableDataLoader` reports how many batches of the current epoch it has handed out; Lightning
stores that in the checkpoint and a resumed run skips exactly those batches.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from torch.utils.data import DataLoader, Sampler

from drive.errors import ConfigError

Item = tuple[int, int]  # (scene index, augmentation seed)


class SceneBatchSampler(Sampler[list[Item]]):
    """Batches of ``(index, augmentation_seed)`` for this process's shard of ``num_items`` scenes.

    With ``shuffle`` the order is a permutation seeded by ``(seed, epoch)``; shard ``rank`` of
    ``world_size`` takes every ``world_size``-th item (the tail is padded by wrapping so every process
    runs the same number of batches, as data parallelism requires).
    """

    def __init__(
        self,
        num_items: int,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ConfigError(f"rank must be in 0..{world_size - 1}, got {rank}")
        self.num_items, self.batch_size, self.shuffle, self.seed = num_items, batch_size, shuffle, seed
        self.drop_last, self.rank, self.world_size = drop_last, rank, world_size
        self.epoch = 0
        # Lightning calls ``set_epoch`` on ``loader.batch_sampler.sampler``; point that at ourselves.
        self.sampler = self
        self.start_batch = 0  # batches of this epoch to skip once (set when resuming)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _shard_size(self) -> int:
        return math.ceil(self.num_items / self.world_size) if self.num_items else 0

    def __len__(self) -> int:
        size = self._shard_size()
        return size // self.batch_size if self.drop_last else math.ceil(size / self.batch_size)

    def _order(self) -> np.ndarray:
        if self.shuffle:
            rng = np.random.default_rng([self.seed, self.epoch])
            order = rng.permutation(self.num_items)
        else:
            order = np.arange(self.num_items)
        total = self._shard_size() * self.world_size
        order = np.resize(order, total) if total else order  # wrap so shards have equal length
        return order[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[list[Item]]:
        order = self._order()
        aug_seeds = np.random.default_rng([self.seed, self.epoch, 1]).integers(0, 2**31 - 1, self.num_items)
        start, self.start_batch = self.start_batch, 0
        for batch in range(start, len(self)):
            chunk = order[batch * self.batch_size : (batch + 1) * self.batch_size]
            yield [(int(i), int(aug_seeds[i])) for i in chunk]


class ResumableDataLoader(DataLoader):
    """A DataLoader over a :class:`SceneBatchSampler` whose position within the epoch is checkpointed.

    Lightning calls :meth:`state_dict` when it saves and :meth:`load_state_dict` when it resumes. Sized
    loaders are not prefetched by Lightning, so batches yielded here equal batches trained on.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.batch_sampler, SceneBatchSampler):
            raise TypeError("ResumableDataLoader needs a SceneBatchSampler as batch_sampler")
        self._yielded = 0

    def __iter__(self):
        sampler: SceneBatchSampler = self.batch_sampler
        self._yielded = sampler.start_batch
        for batch in super().__iter__():
            self._yielded += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.batch_sampler.epoch, "batches_yielded": self._yielded}

    def load_state_dict(self, state: dict[str, int]) -> None:
        sampler: SceneBatchSampler = self.batch_sampler
        sampler.set_epoch(int(state["epoch"]))
        sampler.start_batch = int(state["batches_yielded"]) % max(len(sampler), 1)
