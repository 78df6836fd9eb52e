import pytest

from irodori.config import PRESETS, Config, config_from_dict, load_config
from irodori.errors import ConfigError


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_loads_and_round_trips(preset):
    cfg = load_config(preset)
    assert isinstance(cfg, Config)
    assert cfg.name == preset
    again = config_from_dict(cfg.to_dict())
    assert again == cfg


def test_presets_that_depart_from_the_paper_say_so():
    for name in PRESETS:
        cfg = load_config(name)
        if name != "paper":
            assert cfg.deviations, f"{name} must name its deviations from the paper"


def test_dotted_overrides_are_typed():
    cfg = load_config("paper", ["train.batch_size=8", "generator.channels=[8,16,16,32,32]", "loss.lambda_fm=2"])
    assert cfg.train.batch_size == 8
    assert cfg.generator.channels == (8, 16, 16, 32, 32)
    assert cfg.loss.lambda_fm == 2.0 and isinstance(cfg.loss.lambda_fm, float)


@pytest.mark.parametrize("override, message", [
    ("train.batchsize=8", "unknown key"),
    ("train.batch_size=eight", "expected an integer"),
    ("generator.block=transformer", "not one of"),
    ("data.size=100", "multiple of 16"),
    ("data.line_methods={xdog: 0.3}", "summing to 1"),
    ("train", "section.key=value"),
])
def test_invalid_overrides_fail_with_a_clear_message(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config("paper", [override])


def test_unknown_preset_lists_presets():
    with pytest.raises(ConfigError, match="paper"):
        load_config("nonexistent")


def test_yaml_file_with_base(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text("base: tiny\ntrain:\n  batch_size: 2\n")
    cfg = load_config(str(p))
    assert cfg.train.batch_size == 2 and cfg.generator.num_blocks == 2 and cfg.name == "mine"


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_the_readme_preset_table_lists_every_preset(preset):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme[readme.index("| preset | what it is |"):]
    table = table[:table.index("\n\n")]
    assert f"`{preset}`" in table


@pytest.mark.parametrize("field,bad", [("generator.block", "attention"), ("generator.output", "sigmoid"),
                                       ("data.dataset", "imagenet"), ("train.precision", "fp16")])
def test_a_value_outside_a_fields_literal_type_is_refused_naming_the_choices(field, bad):
    with pytest.raises(ConfigError, match="is not one of"):
        load_config("tiny", [f"{field}={bad}"])
