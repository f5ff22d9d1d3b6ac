"""Service configuration: defaults, file values, MUSICD_* overrides, errors, init_layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from musicd.config import Config, LayoutExistsError, init_layout, load_config, starter_config
from musicd.errors import ConfigError
from musicd.worker import resolve_runner


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_default_file_means_all_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("musicd.config.DEFAULT_CONFIG_PATH", tmp_path / "absent.yaml")
    config = load_config(env={})
    assert config.inbox == Path("/var/lib/musicd/inbox")
    assert config.outbox == Path("/var/lib/musicd/outbox")
    assert config.state_dir == Path("/var/lib/musicd/state")
    assert (config.watch.mode, config.watch.poll_interval_s, config.watch.stability_delay_s) == ("auto", 5, 5)
    assert (config.watch.rescan_interval_s, config.watch.recursive) == (300, False)
    assert config.worker.max_attempts == 3 and config.worker.stop_grace_s == 60
    assert config.worker.job_time_limit_s(30) == 300 + 10 * 30
    assert config.soundfont is None and config.schedules == () and dict(config.models) == {}
    assert config.log_level == "INFO" and config.config_path is None
    assert config.worker.runner == "musicd.pipeline:run_job" and config.schedule_grace_s == 3600


def test_worker_runner_and_schedule_grace_are_read_and_validated(tmp_path: Path) -> None:
    path = write(tmp_path / "config.yaml", "worker: {runner: 'my_jobs.render:run'}\nschedule_grace_s: 600\n")
    config = load_config(path, env={})
    assert (config.worker.runner, config.schedule_grace_s) == ("my_jobs.render:run", 600)
    config = load_config(path, env={"MUSICD_WORKER__RUNNER": "other:go", "MUSICD_SCHEDULE_GRACE_S": "0"})
    assert (config.worker.runner, config.schedule_grace_s) == ("other:go", 0)
    write(path, "worker: {runner: musicd.pipeline.run_job}\nschedule_grace_s: -1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    runner_problem = next(p for p in caught.value.problems if "worker.runner" in p)
    assert "config.yaml line 1" in runner_problem and "'module:function'" in runner_problem
    assert "musicd.pipeline:run_job" in runner_problem
    assert any("schedule_grace_s" in p and "greater than or equal to 0" in p for p in caught.value.problems)


def test_legacy_runner_name_still_works_and_is_logged_as_deprecated(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "config.yaml", "worker: {runner: 'daemon.pipeline:run_job'}\n")
    config = load_config(path, env={})
    assert config.worker.runner == "musicd.pipeline:run_job"
    assert any(
        "deprecated" in r.getMessage() and "daemon.pipeline:run_job" in r.getMessage() for r in caplog.records
    )
    run, resources = resolve_runner("daemon.pipeline:run_job")
    assert (run.__module__, resources.__name__) == ("musicd.pipeline.run", "Resources")


def test_musicd_variables_read_elsewhere_are_not_config_keys(tmp_path: Path) -> None:
    path = write(tmp_path / "config.yaml", "log_level: INFO\n")
    config = load_config(
        path,
        env={"MUSICD_TORCH_THREADS": "2", "MUSICD_CONFIG": str(path), "MUSICD_MAGENTA_VENV": "/opt/m"},
    )
    assert config.log_level == "INFO"
    with pytest.raises(ConfigError, match="MUSICD_TORCH_THREDS"):
        load_config(path, env={"MUSICD_TORCH_THREDS": "2"})


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist.*musicd init"):
        load_config(tmp_path / "nope.yaml", env={})


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    path = write(tmp_path / "etc" / "config.yaml", "inbox: in\noutbox: ../out\nstate_dir: /abs/state\n")
    config = load_config(path, env={})
    assert config.inbox == tmp_path / "etc" / "in"
    assert config.outbox == tmp_path / "out"
    assert config.state_dir == Path("/abs/state")
    assert config.rejected_dir == tmp_path / "etc" / "in" / "rejected"
    assert config.specs_dir == Path("/abs/state/specs")
    assert config.config_path == path


def test_env_overrides_top_level_and_nested_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "c" / "config.yaml", "inbox: in\nwatch: {mode: native, poll_interval_s: 9}\n")
    env = {
        "MUSICD_INBOX": "from-env",
        "MUSICD_WATCH__MODE": "polling",
        "MUSICD_WORKER__MAX_ATTEMPTS": "5",
        "MUSICD_WATCH__RECURSIVE": "true",
        "MUSICD_MODELS__MUSICGEN": "/models/musicgen-small",
        "MUSICD_LOG_LEVEL": "debug",
        "OTHER": "ignored",
    }
    config = load_config(path, env=env)
    assert config.inbox == tmp_path / "from-env"  # env paths resolve against the current folder
    assert config.watch.mode == "polling" and config.watch.poll_interval_s == 9
    assert config.watch.recursive is True
    assert config.worker.max_attempts == 5
    assert config.models["musicgen"] == "/models/musicgen-small"
    assert config.log_level == "DEBUG"


def test_empty_env_value_restores_the_default(tmp_path: Path) -> None:
    path = write(tmp_path / "config.yaml", "watch: {mode: polling}\n")
    assert load_config(path, env={"MUSICD_WATCH__MODE": ""}).watch.mode == "auto"


def test_config_path_from_env(tmp_path: Path) -> None:
    path = write(tmp_path / "x.yaml", "log_level: warning\n")
    assert load_config(env={"MUSICD_CONFIG": str(path)}).log_level == "WARNING"


def test_unknown_keys_get_did_you_mean_with_path_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "config.yaml", "inbox: in\nwatch:\n  mdoe: polling\nworkr: {}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    problems = info.value.problems
    assert any(
        "watch.mdoe" in p and "config.yaml line 3" in p and "did you mean 'mode'" in p for p in problems
    )
    assert any(
        "'workr'" in p and "did you mean 'worker'" in p and "allowed keys: inbox" in p for p in problems
    )
    assert str(path) in str(info.value)


def test_bad_values_name_field_and_allowed_values(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config.yaml",
        "watch: {mode: fast, poll_interval_s: 0}\nworker: {max_attempts: many}\nlog_level: loud\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    text = "\n".join(info.value.problems)
    assert "watch.mode" in text and "'fast' is not allowed" in text and "'polling'" in text
    assert "watch.poll_interval_s" in text and "greater than 0" in text
    assert "worker.max_attempts" in text and "integer" in text
    assert "log_level" in text and "'DEBUG'" in text
    assert len(info.value.problems) == 4


def test_unknown_env_variable_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MUSICD_INBX.*did you mean 'inbox'"):
        load_config(write(tmp_path / "c.yaml", "{}\n"), env={"MUSICD_INBX": "/x"})


def test_yaml_syntax_error_gives_line(tmp_path: Path) -> None:
    path = write(tmp_path / "config.yaml", "inbox: in\nwatch: [unclosed\n")
    with pytest.raises(
        ConfigError, match=r"the file is not valid YAML: .*\(line \d+\); check the indentation"
    ):
        load_config(path, env={})
    write(path, "inbox: !!python/name:os.system\n")
    with pytest.raises(
        ConfigError, match=r"!!python/name:os.system is not allowed \(line 1\); a musicd configuration"
    ):
        load_config(path, env={})


def test_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mapping of keys"):
        load_config(write(tmp_path / "config.yaml", "- just\n- a list\n"), env={})


def test_missing_soundfont_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "config.yaml", "soundfont: fonts/missing.sf2\n")
    with pytest.raises(ConfigError, match="SoundFont .*missing.sf2 does not exist"):
        load_config(path, env={})
    (tmp_path / "fonts").mkdir()
    (tmp_path / "fonts" / "missing.sf2").write_bytes(b"RIFF")
    assert load_config(path, env={}).soundfont == tmp_path / "fonts" / "missing.sf2"


def test_schedule_cron_is_validated(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config.yaml",
        yaml.safe_dump(
            {"schedules": [{"name": "nightly", "cron": "0 25 * * *", "job": {"genres": ["ambient"]}}]}
        ),
    )
    with pytest.raises(ConfigError, match="nightly.*cron"):
        load_config(path, env={}, check_specs=False)


def test_schedule_with_unknown_key_is_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config.yaml",
        yaml.safe_dump({"schedules": [{"name": "n", "cron": "0 3 * * *", "spek": "a.yaml"}]}),
    )
    with pytest.raises(ConfigError, match=r"schedules\[0\]\.spek.*did you mean 'spec'"):
        load_config(path, env={}, check_specs=False)


def test_schedule_spec_path_resolves_against_config_folder(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config.yaml",
        yaml.safe_dump(
            {
                "schedules": [
                    {"name": "n", "cron": "30 6 * * 1-5", "timezone": "Europe/Berlin", "spec": "s/a.yaml"}
                ]
            }
        ),
    )
    config = load_config(path, env={}, check_specs=False)
    (schedule,) = config.schedules
    assert schedule.spec_path == tmp_path / "s" / "a.yaml"
    assert schedule.timezone == "Europe/Berlin"


def test_schedule_inline_job_is_validated_as_a_spec(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config.yaml",
        yaml.safe_dump(
            {
                "schedules": [
                    {"name": "bad", "cron": "0 3 * * *", "job": {"genres": ["ambient"], "duration": -5}}
                ]
            }
        ),
    )
    with pytest.raises(ConfigError, match="schedule .bad.*duration: -5 is too short"):
        load_config(path, env={})


def test_schedule_missing_spec_file_is_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config.yaml",
        yaml.safe_dump({"schedules": [{"name": "n", "cron": "0 3 * * *", "spec": "absent.yaml"}]}),
    )
    with pytest.raises(ConfigError, match="absent.yaml does not exist"):
        load_config(path, env={})


def test_init_layout_creates_a_working_layout(tmp_path: Path) -> None:
    config_path = init_layout(tmp_path / "try")
    assert config_path == tmp_path / "try" / "config.yaml"
    for name in ("inbox", "outbox", "state"):
        assert (tmp_path / "try" / name).is_dir()
    config = load_config(config_path, env={})
    assert isinstance(config, Config)
    assert config.inbox == tmp_path / "try" / "inbox"
    assert config.state_dir == tmp_path / "try" / "state"
    assert config.watch.mode == "auto"
    text = config_path.read_text()
    assert "runner: musicd.pipeline:run_job" in text and "schedule_grace_s: 3600" in text
    assert config.worker.runner == "musicd.pipeline:run_job" and config.schedule_grace_s == 3600


def test_init_layout_refuses_to_overwrite(tmp_path: Path) -> None:
    init_layout(tmp_path)
    (tmp_path / "config.yaml").write_text("inbox: mine\n")
    with pytest.raises(LayoutExistsError, match="already holds a musicd layout"):
        init_layout(tmp_path)
    assert (tmp_path / "config.yaml").read_text() == "inbox: mine\n"


def test_schedules_can_come_from_the_environment_as_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"MUSICD_SCHEDULES": '[{name: nightly, cron: "0 3 * * *", spec: specs/n.yaml}]'}
    config = load_config(write(tmp_path / "etc" / "config.yaml", "{}\n"), env=env, check_specs=False)
    assert [(s.name, s.spec_path) for s in config.schedules] == [("nightly", tmp_path / "specs" / "n.yaml")]


def test_models_section_is_validated_with_the_engines(tmp_path: Path) -> None:
    config_file = tmp_path / "config.yaml"
    config_file.write_text("models:\n  riffusion: {path: models/riffusion, steps: -3}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(config_file, env={})
    assert any("models:" in p and "steps" in p for p in caught.value.problems)


def test_model_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    config_file = tmp_path / "config.yaml"
    config_file.write_text("models:\n  musicgen: {path: models/musicgen}\n")
    config = load_config(config_file, env={})
    assert config.engines.musicgen.path == tmp_path / "models/musicgen"


def test_commented_schedule_example_in_the_starter_config_is_valid(tmp_path: Path) -> None:
    config_file = init_layout(tmp_path / "layout")
    text = config_file.read_text()
    example = text[text.index("# schedules:") : text.index("schedules: []")]
    uncommented = "\n".join(line.removeprefix("# ") for line in example.splitlines())
    config_file.write_text(text.replace(example, "").replace("schedules: []", uncommented))
    config = load_config(config_file, env={})
    assert [s.name for s in config.schedules] == ["morning"]


def test_starter_config_has_every_key_and_loads_back_to_the_defaults(tmp_path: Path) -> None:
    text = starter_config()
    config = load_config(write(tmp_path / "config.yaml", text), env={})
    assert config.model_copy(update={"config_path": None}) == Config()
    lines = text.splitlines()
    for name, info in Config.model_fields.items():
        if info.exclude:
            assert not any(line.startswith(f"{name}:") for line in lines)
            continue
        assert any(line.startswith(f"{name}:") and f"# {info.description}" in line for line in lines), name
        section = getattr(Config(), name)
        for key, sub in getattr(type(section), "model_fields", {}).items():
            assert any(line.startswith(f"  {key}:") and f"# {sub.description}" in line for line in lines), key
