"""The service configuration: one YAML file, every key overridable by MUSICD_* variables.

File: `--config PATH`, else $MUSICD_CONFIG, else /etc/musicd/config.yaml; when
that default file does not exist every key takes its default. Relative paths in
a file resolve against the file's folder; relative paths from the environment
against the current folder.

Environment overrides: `MUSICD_<KEY>` for a top-level key and
`MUSICD_<SECTION>__<KEY>` (two underscores) for a nested one, e.g.
`MUSICD_INBOX=/srv/inbox`, `MUSICD_WATCH__MODE=polling`,
`MUSICD_WORKER__MAX_ATTEMPTS=5`, `MUSICD_MODELS__MUSICGEN=/models/musicgen`.
Values are read as YAML scalars (`5` is a number, `true` a boolean, `null` or
an empty value resets to the default); `MUSICD_SCHEDULES` takes a YAML list.
An unknown MUSICD_* name is an error, like an unknown key in the file.

Every problem is reported at once as a ConfigError with the key's path, the
file line where known, what is allowed and a did-you-mean for misspelt keys.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from musicd.engines import EngineConfig, parse_engine_config
from musicd.errors import ConfigError, SpecError
from musicd.service.scheduler import DEFAULT_GRACE_S, Schedule, ScheduleError, parse_schedules
from musicd.worker.process import DEFAULT_RUNNER, current_runner_name

log = logging.getLogger(__name__)

RUNNER_PATTERN = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
DEFAULT_CONFIG_PATH = Path("/etc/musicd/config.yaml")
DEFAULT_DATA_DIR = Path("/var/lib/musicd")
ENV_PREFIX = "MUSICD_"
ENV_CONFIG_PATH = "MUSICD_CONFIG"  # names the file; not a config key
ENV_NESTING = "__"

WatchMode = Literal["auto", "native", "polling"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


# --------------------------------------------------------------- public, frozen


@dataclass(frozen=True)
class WatchConfig:
    """How the inbox is watched (see musicd.service.watcher)."""

    mode: WatchMode = "auto"
    poll_interval_s: float = 5.0
    stability_delay_s: float = 2.0
    rescan_interval_s: float = 300.0
    recursive: bool = False


@dataclass(frozen=True)
class WorkerConfig:
    """How the worker process is supervised and how often a job may be tried."""

    max_attempts: int = 3
    heartbeat_interval_s: float = 2.0
    heartbeat_timeout_s: float = 30.0
    job_timeout_base_s: float = 300.0
    job_timeout_per_audio_s: float = 10.0
    stop_grace_s: float = 60.0
    runner: str = DEFAULT_RUNNER  # "module:function" the worker calls for each job

    def job_time_limit_s(self, duration_s: float) -> float:
        """The time limit for a job producing `duration_s` seconds of audio."""
        return self.job_timeout_base_s + self.job_timeout_per_audio_s * duration_s


@dataclass(frozen=True)
class Config:
    """The whole, validated service configuration; paths are absolute."""

    inbox: Path = DEFAULT_DATA_DIR / "inbox"
    outbox: Path = DEFAULT_DATA_DIR / "outbox"
    state_dir: Path = DEFAULT_DATA_DIR / "state"
    watch: WatchConfig = field(default_factory=WatchConfig)
    worker: WorkerConfig = field(default_factory=WorkerConfig)
    soundfont: Path | None = None
    schedules: tuple[Schedule, ...] = ()
    schedule_grace_s: float = DEFAULT_GRACE_S  # a missed firing still runs this long after its time
    models: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    engines: EngineConfig = field(default_factory=EngineConfig)  # `models:`, parsed
    log_level: LogLevel = "INFO"
    config_path: Path | None = None  # the file it was read from, None for pure defaults

    @property
    def rejected_dir(self) -> Path:
        """Where invalid specs go, with their *.error.txt (inside the inbox, never watched)."""
        return self.inbox / REJECTED_DIR_NAME

    @property
    def specs_dir(self) -> Path:
        """Where ingested spec files are kept (state_dir/specs/YYYY/MM/)."""
        return self.state_dir / "specs"


REJECTED_DIR_NAME = "rejected"


# ------------------------------------------------------- validation (pydantic)

_STRICT = ConfigDict(extra="forbid", frozen=True)


class _RawWatch(BaseModel):
    model_config = _STRICT
    mode: WatchMode = "auto"
    poll_interval_s: float = Field(5.0, gt=0)
    stability_delay_s: float = Field(2.0, ge=0)
    rescan_interval_s: float = Field(300.0, gt=0)
    recursive: bool = False


class _RawWorker(BaseModel):
    model_config = _STRICT
    max_attempts: int = Field(3, ge=1)
    heartbeat_interval_s: float = Field(2.0, gt=0)
    heartbeat_timeout_s: float = Field(30.0, gt=0)
    job_timeout_base_s: float = Field(300.0, gt=0)
    job_timeout_per_audio_s: float = Field(10.0, ge=0)
    stop_grace_s: float = Field(60.0, ge=0)
    runner: str = DEFAULT_RUNNER

    @field_validator("runner")
    @classmethod
    def _runner_is_module_colon_function(cls, value: str) -> str:
        value = current_runner_name(value)
        if not RUNNER_PATTERN.match(value):
            raise ValueError(
                f"{value!r} must name a function as 'module:function' (a dotted module path, "
                f"a colon, the function), e.g. {DEFAULT_RUNNER}"
            )
        return value


class _RawSchedule(BaseModel):
    model_config = _STRICT
    name: str = Field(min_length=1)
    cron: str
    timezone: str | None = None
    spec: str | None = None
    job: dict[str, Any] | None = None


class _RawConfig(BaseModel):
    model_config = _STRICT
    inbox: str = str(DEFAULT_DATA_DIR / "inbox")
    outbox: str = str(DEFAULT_DATA_DIR / "outbox")
    state_dir: str = str(DEFAULT_DATA_DIR / "state")
    watch: _RawWatch = _RawWatch()
    worker: _RawWorker = _RawWorker()
    soundfont: str | None = None
    schedules: list[_RawSchedule] = []
    schedule_grace_s: float = Field(DEFAULT_GRACE_S, ge=0)
    models: dict[str, Any] = {}
    log_level: LogLevel = "INFO"


_PATH_KEYS = ("inbox", "outbox", "state_dir", "soundfont")


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = _RawConfig
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields.get(str(part))
        if annotation is None:
            break
        inner = annotation.annotation
        args = getattr(inner, "__args__", None)
        candidates = [inner, *(args or ())]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return list(model.model_fields)


def _format_loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


class _Origins:
    """Where each value came from: the config file (with lines) or an environment variable."""

    def __init__(self, file_path: Path | None, file_text: str | None, env_keys: dict[tuple[str, ...], str]):
        self.file_path = file_path
        self.env_keys = env_keys
        self._root = None
        if file_text:
            try:
                self._root = yaml.compose(file_text)
            except yaml.YAMLError:
                self._root = None

    def _line(self, loc: tuple[Any, ...]) -> int | None:
        node = self._root
        line = None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                match = [(k, v) for k, v in node.value if getattr(k, "value", None) == part]
                if not match:
                    return line
                key, node = match[0]
                line = key.start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line

    def describe(self, loc: tuple[Any, ...]) -> str:
        for length in range(len(loc), 0, -1):
            env_name = self.env_keys.get(tuple(str(p) for p in loc[:length]))
            if env_name:
                return f"{_format_loc(loc)} (from environment variable {env_name})"
        line = self._line(loc)
        if line is not None and self.file_path is not None:
            return f"{_format_loc(loc)} ({self.file_path.name} line {line})"
        return _format_loc(loc)


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _problems_from(exc: ValidationError, origins: _Origins) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            parent, key = loc[:-1], str(loc[-1])
            allowed = _allowed_keys(parent)
            where = f"in {_format_loc(parent)}" if parent else "at the top level"
            problems.append(
                f"{origins.describe(loc)}: unknown key '{key}' {where}{_did_you_mean(key, allowed)}; "
                f"allowed keys: {', '.join(allowed)}"
            )
        elif kind == "literal_error":
            allowed = err.get("ctx", {}).get("expected", "")
            problems.append(
                f"{origins.describe(loc)}: {err['input']!r} is not allowed; choose one of {allowed}"
            )
        elif kind == "missing":
            problems.append(f"{origins.describe(loc)}: this key is required")
        elif kind == "value_error":
            problems.append(f"{origins.describe(loc)}: {err.get('ctx', {}).get('error', err['msg'])}")
        else:
            problems.append(f"{origins.describe(loc)}: {err['msg']} (got {err.get('input')!r})")
    return problems


# --------------------------------------------------------------- loading


def _env_value(text: str) -> Any:
    if text.strip() == "":
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> tuple[dict[tuple[str, ...], str], list[str]]:
    """Merge MUSICD_* variables into `raw`; returns {key path: variable name} and problems."""
    origins: dict[tuple[str, ...], str] = {}
    problems: list[str] = []
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name == ENV_CONFIG_PATH:
            continue
        parts = tuple(p.lower() for p in name[len(ENV_PREFIX) :].split(ENV_NESTING))
        if not all(parts):
            problems.append(f"environment variable {name}: use MUSICD_KEY or MUSICD_SECTION__KEY")
            continue
        value = _env_value(env[name])
        target = raw
        for part in parts[:-1]:
            existing = target.get(part)
            if not isinstance(existing, dict):
                existing = {} if existing is None else existing
                if not isinstance(existing, dict):
                    problems.append(f"environment variable {name}: {part} is not a section")
                    break
                target[part] = existing
            target = existing
        else:
            if value is None:
                target.pop(parts[-1], None)
            else:
                target[parts[-1]] = value
            origins[parts] = name
    return origins, problems


def _resolve(path_text: str, base: Path) -> Path:
    path = Path(os.path.expandvars(path_text)).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def _check_schedule_specs(schedules: list[Schedule], problems: list[str]) -> None:
    """Validate each schedule's inline job or spec file with musicd.spec, now rather than at 3 a.m."""
    from musicd import spec as spec_module  # lazy: spec pulls in the genre tables

    for schedule in schedules:
        where = f"schedule {schedule.name!r}"
        try:
            if schedule.spec_path is not None:
                if not schedule.spec_path.is_file():
                    problems.append(f"{where}: spec file {schedule.spec_path} does not exist")
                    continue
                spec_module.load_jobs(schedule.spec_path.read_bytes(), source=str(schedule.spec_path))
            else:
                spec_module.load_spec(schedule.spec_text(), source=f"{where} job")
        except SpecError as exc:
            problems.extend(f"{where}: {p}" for p in exc.problems)
        except OSError as exc:
            problems.append(f"{where}: cannot read {schedule.spec_path}: {exc.strerror or exc}")


def config_from_mapping(
    data: Mapping[str, Any] | None,
    *,
    base_dir: Path,
    env: Mapping[str, str] | None = None,
    config_path: Path | None = None,
    file_text: str | None = None,
    check_specs: bool = True,
) -> Config:
    """Validate a raw mapping (plus MUSICD_* overrides from `env`) into a Config.

    Relative paths from the mapping resolve against `base_dir`, those from the
    environment against the current folder. Raises ConfigError listing every problem.
    """
    source = str(config_path) if config_path else "configuration"
    if data is not None and not isinstance(data, Mapping):
        raise ConfigError([f"the file must hold a mapping of keys (got {type(data).__name__})"], source)
    raw: dict[str, Any] = _deep_copy(dict(data or {}))
    env_origins, problems = _apply_env(raw, os.environ if env is None else env)
    origins = _Origins(config_path, file_text, env_origins)
    if isinstance(raw.get("log_level"), str):
        raw["log_level"] = raw["log_level"].upper()
    try:
        parsed = _RawConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(problems + _problems_from(exc, origins), source) from None

    def path_of(key: str, value: str) -> Path:
        base = Path.cwd() if (key,) in env_origins else base_dir
        return _resolve(value, base)

    paths = {
        key: path_of(key, getattr(parsed, key)) for key in _PATH_KEYS if getattr(parsed, key) is not None
    }
    if "soundfont" in paths and not paths["soundfont"].is_file():
        problems.append(
            f"{origins.describe(('soundfont',))}: SoundFont {paths['soundfont']} does not exist; "
            "give the path of an .sf2 file or remove the key to use the default"
        )
    if paths["inbox"] == paths["outbox"]:
        problems.append("inbox and outbox are the same folder; give them different paths")

    schedules: list[Schedule] = []
    schedule_base = Path.cwd() if ("schedules",) in env_origins else base_dir
    try:
        schedules = parse_schedules(
            [s.model_dump(exclude_none=True) for s in parsed.schedules], schedule_base
        )
    except ScheduleError as exc:
        problems.append(str(exc))
    if check_specs and schedules:
        _check_schedule_specs(schedules, problems)
    models_base = Path.cwd() if ("models",) in env_origins else base_dir
    engines = EngineConfig()
    try:
        engines = parse_engine_config(parsed.models, models_base)
    except ConfigError as exc:
        problems.extend(f"models: {problem}" for problem in exc.problems)
    if problems:
        raise ConfigError(problems, source)

    return Config(
        inbox=paths["inbox"],
        outbox=paths["outbox"],
        state_dir=paths["state_dir"],
        watch=WatchConfig(**parsed.watch.model_dump()),
        worker=WorkerConfig(**parsed.worker.model_dump()),
        soundfont=paths.get("soundfont"),
        schedules=tuple(schedules),
        schedule_grace_s=parsed.schedule_grace_s,
        models=MappingProxyType(dict(parsed.models)),
        engines=engines,
        log_level=parsed.log_level,
        config_path=config_path,
    )


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def load_config(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    check_specs: bool = True,
) -> Config:
    """Read and validate the configuration.

    `path` None means $MUSICD_CONFIG, else /etc/musicd/config.yaml, and a missing
    default file means all defaults; a file named explicitly must exist. `env`
    defaults to os.environ. `check_specs` validates the schedules' specs with
    musicd.spec. Raises ConfigError with every problem found.
    """
    environ = os.environ if env is None else env
    explicit = path is not None or bool(environ.get(ENV_CONFIG_PATH))
    if path is None:
        path = Path(environ[ENV_CONFIG_PATH]) if environ.get(ENV_CONFIG_PATH) else DEFAULT_CONFIG_PATH
    path = Path(path).expanduser().absolute()
    text: str | None = None
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(
                [
                    "the file does not exist; create it (`musicd init DIR` writes a starter one) or fix the path"
                ],
                str(path),
            ) from None
        log.info("no configuration file at %s; using the defaults", path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read the file: {exc}"], str(path)) from None
    data: Any = None
    if text is not None:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(
                [f"{where}YAML syntax error: {problem}; check indentation and quoting there"], str(path)
            ) from None
    return config_from_mapping(
        data,
        base_dir=path.parent,
        env=environ,
        config_path=path if text is not None else None,
        file_text=text,
        check_specs=check_specs,
    )


_STARTER_CONFIG = """\
# musicd configuration. Relative paths are resolved against this file's folder.
# Every key can be overridden by an environment variable: MUSICD_INBOX,
# MUSICD_WATCH__MODE, MUSICD_WORKER__MAX_ATTEMPTS, ...

inbox: inbox          # drop *.yaml job specs here
outbox: outbox        # finished tracks appear in outbox/YYYY/MM/DD/
state_dir: state      # the job database and kept specs (keep it on a local disk)

watch:
  mode: auto          # auto | native | polling (auto polls network shares)
  poll_interval_s: 5
  stability_delay_s: 2
  rescan_interval_s: 300
  recursive: false

worker:
  max_attempts: 3
  heartbeat_interval_s: 2
  heartbeat_timeout_s: 30
  job_timeout_base_s: 300
  job_timeout_per_audio_s: 10
  stop_grace_s: 60     # on stop, a running job gets this long to finish; else it is requeued
  runner: musicd.pipeline:run_job   # module:function run for each job (an extension point)

soundfont: null       # null: the system's General MIDI SoundFont
log_level: INFO

# schedules:
#   - name: morning
#     cron: "0 7 * * *"
#     timezone: Europe/Berlin
#     job: {genres: [lofi], duration: 90}
schedules: []
schedule_grace_s: 3600   # a firing missed while musicd was down still runs within this many seconds

models: {}
"""


def init_layout(directory: Path) -> Path:
    """Create a self-contained layout in `directory`: config.yaml, inbox/, outbox/, state/.

    For trying musicd without root. Returns the config file's path. Refuses
    (ConfigError) to overwrite an existing config.yaml; existing folders are kept.
    """
    directory = Path(directory).expanduser().absolute()
    config_path = directory / "config.yaml"
    if config_path.exists():
        raise ConfigError(
            [f"{config_path} already exists; remove it or choose another folder"], str(directory)
        )
    for name in ("inbox", "outbox", "state"):
        (directory / name).mkdir(parents=True, exist_ok=True)
    with open(config_path, "x", encoding="utf-8") as handle:
        handle.write(_STARTER_CONFIG)
    log.info("created a musicd layout in %s", directory)
    return config_path
