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

The frozen models below are the one source of every key: its default, limits
and description. Loading validates against them; `starter_config()` writes
the commented file `musicd init` creates from them.

Every problem is reported at once as a ConfigError with the key's path, the
file line where known, what is allowed and a did-you-mean for misspelt keys.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    InstanceOf,
    ValidationError,
    create_model,
    field_validator,
)

from musicd.engines import EngineConfig, parse_engine_config
from musicd.environment import CONFIG_PATH_ENV, RUNTIME_VARIABLES
from musicd.errors import ConfigError, MusicdError, SpecError
from musicd.service.scheduler import DEFAULT_GRACE_S, Schedule, ScheduleError, parse_schedules
from musicd.text import did_you_mean
from musicd.worker.process import DEFAULT_RUNNER, current_runner_name

log = logging.getLogger(__name__)

RUNNER_PATTERN = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
DEFAULT_CONFIG_PATH = Path("/etc/musicd/config.yaml")
DEFAULT_DATA_DIR = Path("/var/lib/musicd")
ENV_PREFIX = "MUSICD_"
ENV_CONFIG_PATH = CONFIG_PATH_ENV  # names the file; not a config key
ENV_NESTING = "__"
REJECTED_DIR_NAME = "rejected"

WatchMode = Literal["auto", "native", "polling"]
WorkerBackend = Literal["local", "ray"]
RayResults = Literal["returned", "shared-outbox"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
_Loc = tuple[int | str, ...]  # a key's path, as pydantic reports it: ("schedules", 0, "spec")

_STRICT = ConfigDict(frozen=True, extra="forbid")


# ------------------------------------------------------ the keys (one source)


class WatchConfig(BaseModel):
    """How the inbox is watched (see musicd.service.watcher)."""

    model_config = _STRICT

    mode: WatchMode = Field("auto", description="auto | native | polling (auto polls network shares)")
    poll_interval_s: float = Field(5.0, gt=0, description="seconds between looks when polling")
    stability_delay_s: float = Field(
        5.0, ge=0, description="a file must stay unchanged this long (SMB/NFS writers pause)"
    )
    rescan_interval_s: float = Field(
        300.0, gt=0, description="a full rescan this often catches missed events"
    )
    recursive: bool = Field(False, description="also take specs from subfolders of the inbox")


class WorkerConfig(BaseModel):
    """How the worker process is supervised and how often a job may be tried."""

    model_config = _STRICT

    max_attempts: int = Field(3, ge=1, description="how often a job is tried before it fails for good")
    heartbeat_interval_s: float = Field(2.0, gt=0, description="seconds between the worker's heartbeats")
    heartbeat_timeout_s: float = Field(
        30.0, gt=0, description="a worker silent this long is killed (the try counts)"
    )
    job_timeout_base_s: float = Field(300.0, gt=0, description="a job's time limit is this ...")
    job_timeout_per_audio_s: float = Field(10.0, ge=0, description="... plus this per second of audio")
    stop_grace_s: float = Field(
        60.0, ge=0, description="on stop, a running job gets this long to finish; else it is requeued"
    )
    runner: str = Field(DEFAULT_RUNNER, description="module:function run for each job (an extension point)")
    backend: WorkerBackend = Field(
        "local", description="local: one worker process here | ray: worker actors on a Ray cluster (ray:)"
    )

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

    def job_time_limit_s(self, duration_s: float) -> float:
        """The time limit for a job producing `duration_s` seconds of audio."""
        return self.job_timeout_base_s + self.job_timeout_per_audio_s * duration_s


class RayConfig(BaseModel):
    """The Ray cluster that runs the jobs when worker.backend is ray (musicd.worker.ray_backend)."""

    model_config = _STRICT

    address: str = Field(
        "auto",
        description="auto (the cluster `ray start` made on this machine), HOST:6379 or ray://HOST:10001",
    )
    workers: int = Field(2, ge=1, description="worker actors, each running one job at a time")
    num_cpus: float = Field(1.0, ge=0, description="CPUs Ray reserves for each worker actor")
    num_gpus: float = Field(0.0, ge=0, description="GPUs Ray reserves for each worker actor (0.5 shares one)")
    results: RayResults = Field(
        "returned",
        description="returned: files stream back to the service | shared-outbox: the outbox is at the same path on every node",
    )


class TagsConfig(BaseModel):
    """What every track's tags say besides the job's own title, genres, key and tempo."""

    model_config = _STRICT

    artist: str = Field("musicd", min_length=1, description="the artist tag of every track")
    album: str = Field("musicd", min_length=1, description="the album tag of every track")


NotifyEvent = Literal["done", "failed", "rejected"]


class NotifyConfig(BaseModel):
    """Notifications through Apprise (musicd.service.notify); no URLs: none are sent."""

    model_config = _STRICT

    urls: tuple[str, ...] = Field(
        (), description="Apprise URLs: ntfy://, gotifys://, matrixs://, mailtos://, json://, ..."
    )
    events: tuple[NotifyEvent, ...] = Field(
        ("done", "failed", "rejected"), description="which events are sent: done | failed | rejected"
    )
    link_base: str | None = Field(
        None, description="URL the outbox is served at (a link per job); null: the folder's path"
    )
    retries: int = Field(3, ge=0, description="tries after a failed send, with growing pauses")
    timeout_s: float = Field(10.0, gt=0, description="the longest one send may take")


class WebConfig(BaseModel):
    """`musicd web` (musicd.web); the command line's --host/--port/--password-file win."""

    model_config = _STRICT

    host: str = Field("127.0.0.1", description="listen address; not loopback: a password is required")
    port: int = Field(8080, ge=1, le=65535, description="listen port")
    password_hash: str | None = Field(
        None, description="`musicd web --hash-password` prints one; null: no password (loopback only)"
    )
    password_file: Path | None = Field(None, description="a file with the password or its hash instead")
    max_upload_bytes: int = Field(262144, ge=1024, description="the largest request body (a spec's limit)")
    page_size: int = Field(24, ge=1, le=500, description="tracks per gallery page")
    poll_interval_s: float = Field(2.0, gt=0, description="how often the queue page refreshes itself")


class _ScheduleEntry(BaseModel):
    """One `schedules:` entry as written; musicd.service.scheduler turns it into a Schedule."""

    model_config = _STRICT

    name: str = Field(min_length=1)
    cron: str
    timezone: str | None = None
    spec: str | None = None
    job: dict[str, object] | None = None


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _no_models() -> Mapping[str, object]:
    return MappingProxyType({})


_SCHEDULE_EXAMPLE = {
    "name": "morning",
    "cron": "0 7 * * *",
    "timezone": "Europe/Berlin",
    "job": {"genres": ["lofi"], "duration": 90},
}


class Config(BaseModel):
    """The whole, validated service configuration; paths are absolute.

    Every field is a key of the file, except those with `exclude=True`, which
    loading derives: `engines` from `models:`, and `config_path`.
    """

    model_config = _STRICT

    inbox: Path = Field(DEFAULT_DATA_DIR / "inbox", description="drop *.yaml job specs here")
    outbox: Path = Field(
        DEFAULT_DATA_DIR / "outbox", description="finished tracks appear in outbox/YYYY/MM/DD/"
    )
    state_dir: Path = Field(
        DEFAULT_DATA_DIR / "state", description="the job database and kept specs (keep it on a local disk)"
    )
    watch: WatchConfig = Field(WatchConfig(), description="how the inbox is watched")
    worker: WorkerConfig = Field(WorkerConfig(), description="how jobs are run, timed and retried")
    ray: RayConfig = Field(RayConfig(), description="the Ray cluster for worker.backend: ray")
    soundfont: Path | None = Field(
        None, description="an .sf2 file; null: the system's General MIDI SoundFont"
    )
    tags: TagsConfig = Field(TagsConfig(), description="the artist and album tags of every track")
    notify: NotifyConfig = Field(NotifyConfig(), description="notifications when jobs finish (Apprise)")
    web: WebConfig = Field(WebConfig(), description="`musicd web`: the web UI and the HTTP API")
    log_level: Annotated[LogLevel, BeforeValidator(_upper)] = Field(
        "INFO", description="DEBUG | INFO | WARNING | ERROR | CRITICAL"
    )
    schedules: tuple[InstanceOf[Schedule], ...] = Field(
        (),
        description="jobs queued at cron times (name, cron, timezone, spec or job)",
        examples=[[_SCHEDULE_EXAMPLE]],
    )
    schedule_grace_s: float = Field(
        DEFAULT_GRACE_S,
        ge=0,
        description="a firing missed while musicd was down still runs up to this many seconds late",
    )
    models: Mapping[str, object] = Field(
        default_factory=_no_models,
        description="engine model folders and settings (see musicd.engines; `musicd doctor` checks them)",
    )
    engines: InstanceOf[EngineConfig] = Field(
        default_factory=EngineConfig, exclude=True, description="`models:`, parsed"
    )
    config_path: Path | None = Field(
        None, exclude=True, description="the file it was read from; None for pure defaults"
    )

    @field_validator("models")
    @classmethod
    def _read_only(cls, value: Mapping[str, object]) -> Mapping[str, object]:
        return MappingProxyType(dict(value))

    @property
    def rejected_dir(self) -> Path:
        """Where invalid specs go, with their *.error.txt (inside the inbox, never watched)."""
        return self.inbox / REJECTED_DIR_NAME

    @property
    def specs_dir(self) -> Path:
        """Where ingested spec files are kept (state_dir/specs/YYYY/MM/)."""
        return self.state_dir / "specs"


# Keys the file writes in another shape than Config holds (entries, parsed into Schedules).
_FILE_SHAPES: dict[str, object] = {"schedules": list[_ScheduleEntry]}


def _file_model() -> type[BaseModel]:
    """Config's file keys (the fields not excluded), typed as the file writes them."""
    fields: dict[str, Any] = {
        name: (_FILE_SHAPES.get(name, info.annotation), info)
        for name, info in Config.model_fields.items()
        if not info.exclude
    }
    return create_model("ConfigFile", __config__=_STRICT, **fields)


_ConfigFile = _file_model()


def _is_path(annotation: object) -> bool:
    return annotation is Path or Path in get_args(annotation)


_PATH_KEYS = tuple(name for name, info in _ConfigFile.model_fields.items() if _is_path(info.annotation))


# ------------------------------------------------------------------ messages


def _allowed_keys(loc: _Loc) -> list[str]:
    model: type[BaseModel] = _ConfigFile
    for part in loc:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        if info is None:
            break
        candidates = [info.annotation, *get_args(info.annotation)]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return list(model.model_fields)


def _format_loc(loc: _Loc) -> str:
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

    def _line(self, loc: _Loc) -> int | None:
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

    def describe(self, loc: _Loc) -> str:
        for length in range(len(loc), 0, -1):
            env_name = self.env_keys.get(tuple(str(p) for p in loc[:length]))
            if env_name:
                return f"{_format_loc(loc)} (from environment variable {env_name})"
        line = self._line(loc)
        if line is not None and self.file_path is not None:
            return f"{_format_loc(loc)} ({self.file_path.name} line {line})"
        return _format_loc(loc)


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
                f"{origins.describe(loc)}: unknown key '{key}' {where}{did_you_mean(key, allowed)}; "
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


# ------------------------------------------------------------------- loading


def _env_value(text: str) -> object:
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
        if not name.startswith(ENV_PREFIX) or name in RUNTIME_VARIABLES:
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


def _resolve(path: Path, base: Path) -> Path:
    path = Path(os.path.expandvars(path)).expanduser()
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


def _deep_copy(value: object) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def config_from_mapping(
    data: Mapping[str, object] | None,
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
    raw: dict[str, Any] = _deep_copy(data or {})
    env_origins, problems = _apply_env(raw, os.environ if env is None else env)
    origins = _Origins(config_path, file_text, env_origins)
    try:
        values = dict(_ConfigFile.model_validate(raw))
    except ValidationError as exc:
        raise ConfigError(problems + _problems_from(exc, origins), source) from None

    def base_of(key: str) -> Path:
        return Path.cwd() if (key,) in env_origins else base_dir

    for key in _PATH_KEYS:
        if values[key] is not None:
            values[key] = _resolve(values[key], base_of(key))
    soundfont = values["soundfont"]
    if soundfont is not None and not soundfont.is_file():
        problems.append(
            f"{origins.describe(('soundfont',))}: SoundFont {soundfont} does not exist; "
            "give the path of an .sf2 file or remove the key to use the default"
        )
    if values["inbox"] == values["outbox"]:
        problems.append("inbox and outbox are the same folder; give them different paths")

    schedules: list[Schedule] = []
    try:
        entries = [entry.model_dump(exclude_none=True) for entry in values["schedules"]]
        schedules = parse_schedules(entries, base_of("schedules"))
    except ScheduleError as exc:
        problems.append(str(exc))
    if check_specs and schedules:
        _check_schedule_specs(schedules, problems)
    engines = EngineConfig()
    try:
        engines = parse_engine_config(values["models"], base_of("models"))
    except ConfigError as exc:
        problems.extend(f"models: {problem}" for problem in exc.problems)
    if problems:
        raise ConfigError(problems, source)
    values.update(schedules=tuple(schedules), engines=engines, config_path=config_path)
    return Config(**values)


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
            from musicd.spec.yaml_source import yaml_error_text  # lazy: musicd.spec loads the genre tables

            problem = yaml_error_text(
                exc,
                text,
                kind="musicd configuration",
                one_document_hint="keep the configuration in one document",
            )
            raise ConfigError([problem], str(path)) from None
    return config_from_mapping(
        data,
        base_dir=path.parent,
        env=environ,
        config_path=path if text is not None else None,
        file_text=text,
        check_specs=check_specs,
    )


# -------------------------------------------------------------- starter file

_STARTER_HEADER = """\
# musicd configuration: every key with its default. Relative paths are resolved
# against this file's folder. Every key can be overridden by an environment
# variable: MUSICD_INBOX, MUSICD_WATCH__MODE, MUSICD_WORKER__MAX_ATTEMPTS, ...
"""
_COMMENT_COLUMN = 30
_LAYOUT_FOLDERS = {"inbox": "inbox", "outbox": "outbox", "state_dir": "state"}


def _yaml_text(value: object, *, flow: bool | None = True) -> str:
    if isinstance(value, Path):
        value = str(value)
    elif isinstance(value, Mapping):
        value = dict(value)
    elif isinstance(value, tuple):
        value = list(value)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    text = yaml.safe_dump(value, default_flow_style=flow, sort_keys=False, allow_unicode=True)
    return text.removesuffix("\n").removesuffix("\n...")


def _starter_lines(model: BaseModel, indent: str = "") -> list[str]:
    """`model`'s keys (not the excluded ones) with their values and descriptions as comments."""
    lines: list[str] = []
    after_block = False
    for name, info in type(model).model_fields.items():
        if info.exclude:
            continue
        value = getattr(model, name)
        comment = f"  # {info.description}" if info.description else ""
        section = isinstance(value, BaseModel)
        if indent == "" and (section or after_block or info.examples):
            lines.append("")
        after_block = section
        for example in info.examples or []:
            text = _yaml_text({name: example}, flow=None)
            lines.extend(f"{indent}# {line}" for line in text.splitlines())
        if isinstance(value, BaseModel):
            lines.append(f"{indent}{name}:{comment}")
            lines.extend(_starter_lines(value, indent + "  "))
        else:
            entry = f"{indent}{name}: {_yaml_text(value)}"
            lines.append(entry.ljust(_COMMENT_COLUMN) + comment if comment else entry)
    return lines


def starter_config(values: Mapping[str, object] | None = None) -> str:
    """The commented config.yaml that `musicd init` writes: every key, its default, its description.

    `values` replaces top-level defaults (init_layout's relative folders).
    """
    config = Config.model_validate(dict(values or {}))
    return "\n".join([_STARTER_HEADER, *_starter_lines(config)]) + "\n"


EXAMPLE_SPEC_PATH = "examples/late-night-study.yaml"  # in the layout; ../schema.json from here and inbox/


class LayoutExistsError(MusicdError):
    """`musicd init` on a folder that already holds a layout."""


def init_layout(directory: Path) -> Path:
    """Create a self-contained layout in `directory`: config.yaml, inbox/, outbox/, state/,
    schema.json and an example spec in examples/ (outside the inbox, so it is not ingested).

    For trying musicd without root. Returns the config file's path. Refuses
    (LayoutExistsError) to overwrite an existing config.yaml; existing folders are kept.
    A folder that cannot be created is a MusicdError that says why.
    """
    from importlib.resources import files

    from musicd.spec import spec_json_schema_text

    directory = Path(directory).expanduser().absolute()
    config_path = directory / "config.yaml"
    if config_path.exists():
        raise LayoutExistsError(
            f"{directory} already holds a musicd layout: {config_path.name} already exists there. "
            f"Use it (`musicd run --config {config_path}`) or choose another folder"
        )
    example = files("musicd.spec").joinpath("example.yaml").read_text(encoding="utf-8")
    current = directory
    try:
        for name in _LAYOUT_FOLDERS.values():
            current = directory / name
            current.mkdir(parents=True, exist_ok=True)
        current = directory / EXAMPLE_SPEC_PATH
        current.parent.mkdir(exist_ok=True)
        current.write_text(example, encoding="utf-8")
        current = directory / "schema.json"
        current.write_text(spec_json_schema_text(), encoding="utf-8")
        current = config_path
        with open(config_path, "x", encoding="utf-8") as handle:
            handle.write(starter_config(_LAYOUT_FOLDERS))
    except OSError as error:
        raise MusicdError(
            f"cannot create {current}: {error.strerror or error}; choose a folder you can write "
            "to, e.g. `musicd init ~/musicd`"
        ) from None
    log.info("created a musicd layout in %s", directory)
    return config_path
