"One settings mechanism: every field of every job's settings is a documented CLI flag, a YAML key and a validated value."
import argparse, importlib

import pytest

from molcryst.core import ConfigError
from molcryst.settings import Settings, add_settings_arguments, field_help, settings_overrides

JOBS = {'TrainConfig': ('molcryst.config', 'train'), 'SearchSettings': ('molcryst.hpo', 'tune'), 'MDSettings': ('molcryst.md', 'md')}


def _cls(name):
    mod, _ = JOBS[name]
    cls = getattr(importlib.import_module(mod), name, None)
    if cls is None: pytest.fail(f'{mod}.{name} does not exist')
    return cls


@pytest.mark.parametrize('name', sorted(JOBS))
def test_settings_class(name):
    cls = _cls(name)
    assert issubclass(cls, Settings)
    for f, info in cls.model_fields.items():
        assert info.description, f'{name}.{f} has no meaning (setting(default, help=...))'


@pytest.mark.parametrize('name', sorted(JOBS))
def test_every_field_is_a_flag_of_its_command(name):
    "The sub-command's --help lists every field (bar the ones the command sets itself) with its meaning and default."
    from molcryst.cli import build_parser
    cls, command = _cls(name), JOBS[name][1]
    p = build_parser(command)
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    flags = {o: a for a in sub._actions for o in a.option_strings}
    missing = [f for f in cls.model_fields if '--' + f.replace('_', '-') not in flags]
    assert len(missing) <= 3, f'{command}: fields with no flag: {missing}'
    for f, info in cls.model_fields.items():
        a = flags.get('--' + f.replace('_', '-'))
        if a is None: continue
        assert info.description.split('(')[0].strip()[:20] in a.help and 'default:' in a.help, (f, a.help)


@pytest.mark.parametrize('name', sorted(JOBS))
def test_yaml_round_trip_and_unknown_field(name, tmp_path):
    cls = _cls(name)
    try: s = cls()
    except ConfigError: pytest.skip(f'{name} has required fields')
    s.to_yaml(tmp_path / 's.yaml')
    assert cls.from_yaml(tmp_path / 's.yaml') == s
    first = next(iter(cls.model_fields))
    with pytest.raises(ConfigError, match=f"unknown field '{first}x' \\(did you mean '{first}'\\?\\)"):
        cls.from_dict({first + 'x': 1}, source='s.yaml')


def test_a_new_field_needs_no_second_list():
    "Declaring a field is enough for the flag, its help, the YAML key and the value read from the command line."
    from typing import Literal
    from molcryst.settings import setting
    class Job(Settings):
        steps: int = setting(10, 'MD steps', ge=1)
        thermostat: Literal['nve', 'langevin'] = setting('nve', 'the ensemble')
        temperature_K: float|None = setting(None, 'initial and bath temperature', 'K', gt=0)
    p = add_settings_arguments(argparse.ArgumentParser(), Job)
    args = p.parse_args(['--steps', '5', '--temperature-K', '300'])
    assert Job(**settings_overrides(Job, args)) == Job(steps=5, temperature_K=300.0)
    assert 'K' in field_help(Job.model_fields['temperature_K']) and 'default: None' in field_help(Job.model_fields['temperature_K'])
    with pytest.raises(ConfigError, match="Job.thermostat: unknown thermostat 'nvt'"): Job(thermostat='nvt')
    with pytest.raises(ConfigError, match='Job.steps: must be ≥ 1, got 0'): Job(steps=0)
