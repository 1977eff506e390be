"""The DataModule of each source: where its splits live and its standard time window.

Every class is a :class:`~drive.training.datamodule.ScenarioDataModule`, so they share batching,
windowing, augmentation, sharding and resumption; configs name them by ``class_path``
(``drive.training.sources.SimDataModule`` ...).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from drive.data.schema import Scenario
from drive.datasets import LoadReport
from drive.errors import ConfigError
from drive.training.datamodule import ScenarioDataModule


def _optional_path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value)


class WomdDataModule(ScenarioDataModule):
    """Waymo Open Motion Dataset scenario TFRecords (a file or a directory per split); 10 Hz,
    11 history steps (current included) and 80 future steps by default."""

    def __init__(
        self,
        train_path: str | None = None,
        val_path: str | None = None,
        test_path: str | None = None,
        predict_path: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.paths = {
            "train": _optional_path(train_path),
            "val": _optional_path(val_path),
            "test": _optional_path(test_path),
            "predict": _optional_path(predict_path or test_path),
        }

    def split_source(self, split: str) -> Path | None:
        return self.paths[split]


class Av2DataModule(WomdDataModule):
    """Argoverse 2 motion-forecasting scenario directories (one per split); 10 Hz, 50 history and
    60 future steps."""

    def __init__(
        self,
        train_path: str | None = None,
        val_path: str | None = None,
        test_path: str | None = None,
        predict_path: str | None = None,
        *,
        num_history_steps: int = 50,
        num_future_steps: int = 60,
        **kwargs,
    ) -> None:
        super().__init__(
            train_path,
            val_path,
            test_path,
            predict_path,
            num_history_steps=num_history_steps,
            num_future_steps=num_future_steps,
            **kwargs,
        )


class EthUcyDataModule(ScenarioDataModule):
    """ETH/UCY leave-one-out: ``root/<scene>/{train,val,test}/*.txt`` with ``scene`` the held-out one;
    0.4 s steps, 8 observed and 12 future steps (the standard protocol)."""

    def __init__(
        self,
        root: str = "data/eth_ucy",
        scene: str = "eth",
        *,
        num_history_steps: int = 8,
        num_future_steps: int = 12,
        min_peds: int = 1,
        **kwargs,
    ) -> None:
        super().__init__(num_history_steps=num_history_steps, num_future_steps=num_future_steps, **kwargs)
        from drive.datasets.eth_ucy import SCENES

        if scene not in SCENES:
            raise ConfigError(f"data.scene = {scene!r} is invalid: choose one of {', '.join(SCENES)}")
        self.root, self.scene, self.min_peds = Path(root), scene, min_peds

    def split_source(self, split: str) -> list[Path]:
        from drive.datasets.eth_ucy import eth_ucy_split

        return eth_ucy_split(self.root, self.scene, "test" if split == "predict" else split)

    def read_split(self, split: str) -> Iterator[Scenario]:
        from drive.datasets import eth_ucy

        report = self.reports.setdefault(split, LoadReport())
        for path in self.split_source(split):
            yield from eth_ucy.iter_scenarios(
                path,
                skip_errors=self.skip_errors,
                report=report,
                min_peds=self.min_peds,
                num_observed_steps=self.num_history_steps,
                num_future_steps=self.num_future_steps,
            )


class SimDataModule(ScenarioDataModule):
    """Simulated traffic (SUMO), the embedded default: ``num_scenes`` WOMD-format scenes for
    ``sim_seed`` under ``root/{train,val,test}``, simulated on first use and reused afterwards."""

    def __init__(
        self,
        root: str = "outputs/sim",
        num_scenes: int = 600,
        sim_seed: int = 0,
        sim_workers: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.root, self.num_scenes, self.sim_seed, self.sim_workers = (
            Path(root),
            num_scenes,
            sim_seed,
            sim_workers,
        )

    def prepare_data(self) -> None:
        from drive.datasets.sumo import ensure_simulated

        ensure_simulated(self.root, self.num_scenes, self.sim_seed, workers=self.sim_workers)

    def split_source(self, split: str) -> Path:
        return self.root / ("test" if split == "predict" else split)

    def read_split(self, split: str) -> Iterator[Scenario]:
        if not self.split_source(split).exists():
            self.prepare_data()  # setup() without fit/validate (e.g. in a script) still finds the data
        yield from super().read_split(split)
