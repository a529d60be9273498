"""The ``panels:`` key: validated like the rest of the config, one line per mistake."""

from __future__ import annotations

import re

import pytest

from optbench.config import ConfigError, load, loads, setting_matches

BASE = """\
name: p
functions:
  - {label: bowl, function: paraboloid, start: [1, 1]}
  - {label: banana, function: rosenbrock, start: [0, 0]}
optimizers:
  - {label: sd, optimizer: sgd, functions: [bowl], lr: [0.1, 0.2]}
  - {label: adam sweep, optimizer: adam, lr: {logspace: [0.001, 1, 13]}, betas: [[0.5, 0.9], 0.999]}
panels:
  - title: a panel
    function: bowl
    show:
"""


def test_valid_panels_are_kept_and_do_not_change_the_hash():
    text = BASE + "      - {optimizer: sd, reference: true}\n" \
                  "      - {optimizer: adam sweep, setting: {lr: 0.001, 'betas[0]': [0.5, 0.9]}}\n"
    config = loads(text, source="p.yaml")
    (panel,) = config.panels
    assert panel.function == "bowl" and panel.show[0].reference and not panel.show[1].reference
    assert panel.show[1].setting == {"lr": 0.001, "betas[0]": [0.5, 0.9]}
    without = loads(BASE.replace("panels:\n  - title: a panel\n    function: bowl\n    show:\n", ""),
                    source="p.yaml")
    assert without.panels == () and without.hash() == config.hash()


def test_the_shipped_config_declares_the_books_six_figures():
    config = load("configs/paraboloid.yaml")
    titles = [p.title for p in config.panels]
    assert [t.split(":")[0] for t in titles] == [f"Fig. 8.{i}" for i in range(1, 7)]
    for panel in config.panels[2:]:
        reference = panel.show[0]
        assert reference.reference and reference.setting == {"lr": 0.4}


@pytest.mark.parametrize("line, message", [
    ("{optimizer: sdd}", (r"p.yaml:12: panels\[0\].show\[0\].optimizer: no optimizer labelled "
                         r"'sdd' \(did you mean 'sd'\?\)")),
    ("{optimizer: sd, setting: {lr: 0.3}}",
     (r"p.yaml:12: panels\[0\].show\[0\].setting.lr: no setting of 'sd' has lr=0.3; its values: "
     r"0.1, 0.2")),
    ("{optimizer: sd, setting: {lrr: 0.1}}",
     (r"p.yaml:12: panels\[0\].show\[0\].setting.lrr: 'sd' does not set 'lrr' "
     r"\(did you mean 'lr'\?\); it sets: lr")),
    ("{optimizer: adam sweep}",
     (r"p.yaml:12: panels\[0\].show\[0\].optimizer: picks 26 settings of 'adam sweep'; a panel "
     r"draws at most 12")),
    ("{optimizer: sd, colour: red}",
     r"p.yaml:12: panels\[0\].show\[0\].colour: unknown key"),
    ("{optimizer: sd, reference: maybe}",
     r"p.yaml:12: panels\[0\].show\[0\].reference: must be true or false, got .maybe."),
])
def test_bad_panel_lines(line, message):
    with pytest.raises(ConfigError, match="^" + message):
        loads(BASE + f"      - {line}\n", source="p.yaml")


def test_bad_panel_function_and_shape():
    text = BASE.replace("function: bowl\n    show:", "function: bowel\n    show:")
    with pytest.raises(ConfigError, match=re.escape(
            "p.yaml:10: panels[0].function: no function labelled 'bowel' (did you mean 'bowl'?)")):
        loads(text + "      - {optimizer: sd}\n", source="p.yaml")
    with pytest.raises(ConfigError, match=re.escape(
            "p.yaml:12: panels[0].show[0].optimizer: 'sd' does not run on 'banana' (its functions: "
            "bowl)")):
        loads(BASE.replace("function: bowl\n    show:", "function: banana\n    show:")
              + "      - {optimizer: sd}\n", source="p.yaml")
    with pytest.raises(ConfigError, match=re.escape(
            "p.yaml:11: panels[0].shwo: unknown key (did you mean 'show'?)")):
        loads(BASE.replace("    show:", "    shwo:") + "      - {optimizer: sd}\n",
              source="p.yaml")


@pytest.mark.parametrize("hypers, setting, expected", [
    ({"lr": 0.30000000000000004}, {"lr": 0.3}, True),
    ({"lr": 0.3}, {"lr": [0.1, 0.3]}, True),
    ({"lr": 0.3}, {"lr": 0.31}, False),
    ({"betas": [0.5, 0.999]}, {"betas[0]": 0.5}, True),
    ({"betas": [0.5, 0.999]}, {"betas": [0.5, 0.999]}, True),
    ({"betas": [0.5, 0.999]}, {"betas": [[0.9, 0.999], [0.5, 0.999]]}, True),
    ({"betas": [0.5, 0.999]}, {"betas": 0.5}, False),
    ({"nesterov": True}, {"nesterov": True}, True),
    ({"nesterov": True}, {"nesterov": 1}, False),
    ({}, {"lr": 0.1}, False),
])
def test_setting_matches(hypers, setting, expected):
    assert setting_matches(hypers, setting) is expected
