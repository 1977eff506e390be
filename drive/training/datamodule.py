"""LightningDataModules, one per source, all sharing one pipeline:

read scenarios (through the preprocessed cache when one is available) -> cut each to the shared time
window -> optionally rotate the whole scene at random (training only) -> collate into a
:class:`~drive.data.batch.SceneBatch`.

``num_history_steps`` (including the current step) and ``num_future_steps`` are set here once;
the CLI links ``num_future_steps`` into the model's config.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from drive.data.batch import DEFAULT_POINTS_PER_CHUNK, collate_scenarios
from drive.data.cache import CachedScenes, is_scene_cache
from drive.data.schema import Scenario
from drive.datasets import LoadReport, iter_scenarios
from drive.errors import ConfigError, DataError
from drive.training.sampling import ResumableDataLoader, SceneBatchSampler
from drive.training.scenes import crop_scenario, mirror_scenario, rotate_scenario, scale_scenario, thin_map

SPLITS = ("train", "val", "test", "predict")
STAGE_SPLITS = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("predict",)}


class WindowedScenes(Dataset):
    """Scenes cut to a fixed window; items are ``(index, augmentation_seed)`` pairs from
    :class:`SceneBatchSampler` (or plain indices). With ``rotate`` each scene is rotated by an angle
    drawn uniformly from [-pi, pi) with the item's own seed; with ``mirror`` reflected across the x axis
    with probability 1/2; with ``scale = s`` scaled by a factor drawn uniformly from [1 - s, 1 + s]."""

    def __init__(
        self,
        scenes: Sequence[Scenario],
        num_history_steps: int,
        num_future_steps: int,
        rotate: bool = False,
        map_keep_every: int = 1,
        mirror: bool = False,
        scale: float = 0.0,
    ) -> None:
        self.scenes = scenes
        self.num_history_steps, self.num_future_steps, self.rotate = (
            num_history_steps,
            num_future_steps,
            rotate,
        )
        self.map_keep_every, self.mirror, self.scale = map_keep_every, mirror, scale

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, item: int | tuple[int, int]) -> Scenario:
        index, aug_seed = item if isinstance(item, tuple) else (item, 0)
        scene = crop_scenario(self.scenes[index], self.num_history_steps, self.num_future_steps)
        scene = thin_map(scene, self.map_keep_every)
        # One generator per (scene, seed), drawn in a fixed order: turning reflection or scaling on
        # leaves the rotation angles of earlier runs as they were.
        rng = np.random.default_rng(aug_seed)
        if self.rotate:
            scene = rotate_scenario(scene, float(rng.uniform(-math.pi, math.pi)))
        if self.mirror and rng.random() < 0.5:
            scene = mirror_scenario(scene)
        if self.scale:
            scene = scale_scenario(scene, float(rng.uniform(1 - self.scale, 1 + self.scale)))
        return scene


class ScenarioDataModule(pl.LightningDataModule):
    """Shared pipeline; subclasses say where each split's scenarios come from (:meth:`split_source`).

    Args:
        num_history_steps: observed steps per scene, the current step included (Th).
        num_future_steps: steps to predict (Tf); linked into the model config.
        batch_size: scenes per training batch; ``eval_batch_size`` for val/test/predict (default: same).
        num_workers: DataLoader worker processes (0 = load in the main process).
        rotate_augmentation: rotate each training scene by a random global angle.
        mirror_augmentation: reflect each training scene across its x axis with probability 1/2 (for
            data without handedness, such as pedestrians; not for right-hand traffic).
        scale_augmentation: scale each training scene (distances and speeds) by a factor drawn uniformly
            from ``[1 - s, 1 + s]``; 0 turns it off.
        points_per_chunk: map polyline chunk length P.
        map_keep_every: keep every n-th map point of each polyline (1 = all); fewer map tokens.
        seed: data order and augmentation seed (independent of the global seed).
        max_scenes: read at most this many scenes per split (quick experiments; None = all).
        skip_errors: skip malformed records (reported) instead of stopping at the first one.
    """

    def __init__(
        self,
        *,
        num_history_steps: int = 11,
        num_future_steps: int = 80,
        batch_size: int = 8,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        rotate_augmentation: bool = False,
        mirror_augmentation: bool = False,
        scale_augmentation: float = 0.0,
        points_per_chunk: int = DEFAULT_POINTS_PER_CHUNK,
        map_keep_every: int = 1,
        seed: int = 0,
        skip_errors: bool = False,
        max_scenes: int | None = None,
    ) -> None:
        super().__init__()
        for name, value in (
            ("num_history_steps", num_history_steps),
            ("num_future_steps", num_future_steps),
            ("batch_size", batch_size),
            ("points_per_chunk", points_per_chunk),
            ("map_keep_every", map_keep_every),
        ):
            if value < 1:
                raise ConfigError(f"data.{name} = {value!r} is invalid: must be >= 1")
        if num_workers < 0:
            raise ConfigError(f"data.num_workers = {num_workers!r} is invalid: must be >= 0")
        if not 0.0 <= scale_augmentation < 1.0:
            raise ConfigError(
                f"data.scale_augmentation = {scale_augmentation!r} is invalid: must be in [0, 1)"
            )
        self.mirror_augmentation, self.scale_augmentation = mirror_augmentation, scale_augmentation
        self.num_history_steps, self.num_future_steps = num_history_steps, num_future_steps
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size or batch_size
        self.num_workers, self.rotate_augmentation = num_workers, rotate_augmentation
        self.points_per_chunk, self.seed, self.skip_errors = points_per_chunk, seed, skip_errors
        self.map_keep_every = map_keep_every
        if max_scenes is not None and max_scenes < 1:
            raise ConfigError(f"data.max_scenes = {max_scenes!r} is invalid: must be >= 1 or null")
        self.max_scenes = max_scenes
        self.scenes: dict[str, list[Scenario]] = {}
        self.reports: dict[str, LoadReport] = {}

    def window(self) -> dict[str, int]:
        """The time window and map chunking a model trained on this data expects (stored in checkpoints)."""
        return {
            "num_history_steps": self.num_history_steps,
            "num_future_steps": self.num_future_steps,
            "points_per_chunk": self.points_per_chunk,
            "map_keep_every": self.map_keep_every,
        }

    # -- what subclasses provide -------------------------------------------------------------------
    def split_source(self, split: str) -> Path | Sequence[Path] | None:
        """Path(s) holding ``split``'s scenarios, or None when this module has no such split."""
        raise NotImplementedError

    def read_split(self, split: str) -> Iterator[Scenario]:
        source = self.split_source(split)
        if source is None:
            raise ConfigError(f"{type(self).__name__} has no {split!r} split configured")
        paths = [source] if isinstance(source, (str, Path)) else list(source)
        report = self.reports.setdefault(split, LoadReport())
        for path in map(Path, paths):
            if is_scene_cache(path):
                # Built by `drive cache`: scenes were validated when it was built; read them memory-mapped.
                yield from CachedScenes(path)
            else:
                yield from iter_scenarios(path, skip_errors=self.skip_errors, report=report)

    # -- Lightning hooks ---------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        for split in STAGE_SPLITS.get(stage or "fit", ()):
            if split not in self.scenes:
                self.scenes[split] = self.load_split(split)

    def load_split(self, split: str) -> list[Scenario]:
        """All scenes of ``split`` that have a target in the window; an empty split is an error."""
        scenes = list(itertools.islice(self.read_split(split), self.max_scenes))
        usable = []
        for scene in scenes:
            try:
                crop_scenario(scene, self.num_history_steps, self.num_future_steps)
            except DataError:
                continue  # no target observed at the current step of this window
            usable.append(scene)
        if not usable:
            raise DataError(
                f"empty split {split!r}: {self.split_source(split)} holds {len(scenes)} scenario(s), none "
                "with a target agent observed at the current step "
                f"(num_history_steps={self.num_history_steps})"
            )
        return usable

    def _dataset(self, split: str, rotate: bool) -> WindowedScenes:
        if split not in self.scenes:
            self.scenes[split] = self.load_split(split)
        return WindowedScenes(
            self.scenes[split],
            self.num_history_steps,
            self.num_future_steps,
            rotate,
            self.map_keep_every,
            mirror=self.mirror_augmentation and split == "train",
            scale=self.scale_augmentation if split == "train" else 0.0,
        )

    def _loader(self, split: str, batch_size: int, shuffle: bool, rotate: bool) -> DataLoader:
        dataset = self._dataset(split, rotate)
        rank, world = 0, 1
        if self.trainer is not None:
            rank, world = self.trainer.global_rank, self.trainer.world_size
        sampler = SceneBatchSampler(
            len(dataset), batch_size, shuffle=shuffle, seed=self.seed, rank=rank, world_size=world
        )
        return ResumableDataLoader(
            dataset,
            batch_sampler=sampler,
            collate_fn=functools.partial(collate_scenarios, points_per_chunk=self.points_per_chunk),
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            # Own generator: creating an iterator then draws nothing from the global RNG (dropout's).
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.batch_size, shuffle=True, rotate=self.rotate_augmentation)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", self.eval_batch_size, shuffle=False, rotate=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.eval_batch_size, shuffle=False, rotate=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("predict", self.eval_batch_size, shuffle=False, rotate=False)

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        return batch.to(device)


_SOURCE_MODULES = ("WomdDataModule", "Av2DataModule", "EthUcyDataModule", "SimDataModule")


def __getattr__(name: str):
    # The per-source classes live in drive.training.sources; older imports from here keep working.
    if name in _SOURCE_MODULES:
        from drive.training import sources

        return getattr(sources, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
