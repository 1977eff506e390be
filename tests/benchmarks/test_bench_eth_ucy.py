import pytest

from drive.errors import ConfigError
from drive.models import PredictorConfig
from tests.benchmarks.scripts import load_script

bench = load_script("bench_eth_ucy")


def test_defaults_keep_the_documented_configuration():
    """Commands written before the rotary options existed still build the same model."""
    config = bench.model_config(bench.parse(["--hidden-dim", "64", "--num-heads", "4"]))
    assert (config.xy_slots, config.heading_slots) == (2, 2)
    library = PredictorConfig(num_future_steps=12)
    assert (config.min_wavelength_m, config.max_wavelength_m) == (2.0, 400.0)
    assert (library.min_wavelength_m, library.max_wavelength_m) == (2.0, 400.0)


def test_rotary_options_reach_the_model():
    args = bench.parse(
        ["--hidden-dim", "64", "--num-heads", "4", "--xy-slots", "4", "--heading-slots", "3"]
        + ["--min-wavelength-m", "1", "--max-wavelength-m", "64"]
    )
    config = bench.model_config(args)
    assert (config.xy_slots, config.heading_slots) == (4, 3)
    assert (config.min_wavelength_m, config.max_wavelength_m) == (1.0, 64.0)


def test_rotary_slots_that_do_not_fit_a_head_are_refused():
    args = bench.parse(["--hidden-dim", "64", "--num-heads", "4", "--xy-slots", "8", "--heading-slots", "2"])
    with pytest.raises(ConfigError, match="slots"):
        bench.model_config(args)


@pytest.mark.parametrize(
    "option,field", [(["--xy-slots", "3"], "xy_slots"), (["--min-wavelength-m", "-1"], "min_wavelength_m")]
)
def test_bad_options_end_the_run_naming_the_field(option, field):
    with pytest.raises(SystemExit, match=field):
        bench.main(["--quick", "--root", "/nonexistent", *option])
