"""Check one job mapping field by field (aliases included) and build its JobSpec."""

from __future__ import annotations

from typing import Any

from musicd.spec import model
from musicd.spec.fields import ALIASES, FIELD_HINTS, FIELDS, KNOWN_TOP_LEVEL, SECTIONS, Alias
from musicd.spec.kinds import INVALID, Checker, describe, unknown_field_message
from musicd.spec.model import EnginesSpec, JobSpec, MasterSpec, OutputSpec, VideoSpec, VocalsSpec
from musicd.spec.yaml_source import Path

EXTENSION_PREFIX = "x-"  # keys such as `x-defaults:` are ignored: a place for YAML anchors

NEEDS_PROMPT_OR_GENRES = (
    "a job needs a prompt or genres (or both), e.g. `prompt: relaxing lofi for studying` or `genres: [lofi]`"
)


def _given(data: dict[Any, Any], path: tuple[str, ...]) -> bool:
    """Whether `path` holds a non-null value in `data`."""
    value: Any = data
    for part in path:
        if not isinstance(value, dict) or value.get(part) is None:
            return False
        value = value[part]
    return True


def check_job(data: Any, base: Path, checker: Checker) -> JobSpec | None:
    """The JobSpec for one job mapping, or None after recording every problem in `checker`."""
    if not isinstance(data, dict):
        checker.problem(
            base,
            "a job spec is a mapping of fields such as `prompt: ...` and "
            f"`genres: [...]`, but this is {describe(data)}",
        )
        return None
    ok = True
    given: dict[str, tuple[Any, Path]] = {}
    aliases: list[tuple[Alias, Any, Path]] = []
    for key, value in data.items():
        if not isinstance(key, str):
            checker.problem(
                base + (str(key),),
                f"{describe(key)} is not a field name; field names are words such as prompt or genres",
                at_key=True,
            )
            ok = False
        elif key.startswith(EXTENSION_PREFIX):
            continue
        elif key in FIELDS:
            if value is not None:
                given[key] = (value, base + (key,))
        elif key in ALIASES:
            if value is not None:
                aliases.append((ALIASES[key], value, base + (key,)))
        elif key == "jobs":
            checker.problem(
                base + (key,),
                "a `jobs:` list must stand alone at the top of a file; give this job's own fields here",
                at_key=True,
            )
            ok = False
        else:
            checker.problem(
                base + (key,), unknown_field_message(key, KNOWN_TOP_LEVEL, FIELD_HINTS), at_key=True
            )
            ok = False

    injected: dict[str, dict[str, tuple[Any, Path]]] = {}
    video_flag: tuple[Any, Path] | None = None
    video_styles: tuple[Any, Path] | None = None
    for alias, value, path in aliases:
        if _given(data, alias.conflicts_with):
            canonical = ".".join(alias.conflicts_with)
            checker.problem(
                path,
                f"given together with {canonical}; they set the same thing, keep only "
                f"one ({canonical} is the current name)",
                at_key=True,
            )
            ok = False
        elif alias.name == "generateVideo":
            video_flag = (value, path)
        elif alias.name == "videoStyles":
            video_styles = (value, path)
        elif len(alias.target) == 1:
            given[alias.target[0]] = (value, path)
        else:
            section, name = alias.target
            injected.setdefault(section, {})[name] = (value, path)

    checked: dict[str, Any] = {}
    for name, field in FIELDS.items():
        if name == "video":
            continue
        if name in SECTIONS:
            if name not in given and name not in injected:
                continue
            value, path = given.get(name, ({}, base + (name,)))
            result = SECTIONS[name].check(value, path, checker, injected.get(name))
        elif name in given:
            result = field.kind.check(*given[name], checker)
        else:
            continue
        ok = ok and result is not INVALID
        checked[name] = result

    video = _check_video(given.get("video"), video_flag, video_styles, checker)
    ok = ok and video is not INVALID

    if "prompt" not in given and ("genres" not in given or checked.get("genres") == ()):
        checker.problem(base, NEEDS_PROMPT_OR_GENRES)
        ok = False
    return _build(checked, video) if ok else None


def _check_video(
    video: tuple[Any, Path] | None,
    flag: tuple[Any, Path] | None,
    styles: tuple[Any, Path] | None,
    checker: Checker,
) -> Any:
    """VideoSpec | None from `video:` or the HTTP API's generateVideo/videoStyles, or INVALID."""
    if video is not None:
        return FIELDS["video"].kind.check(*video, checker)
    on = ALIASES["generateVideo"].kind.check(*flag, checker) if flag else None
    chosen = ALIASES["videoStyles"].kind.check(*styles, checker) if styles else None
    if on is INVALID or chosen is INVALID:
        return INVALID
    if on is False and chosen and flag is not None:
        checker.problem(
            flag[1], "is false but videoStyles are given; set generateVideo: true or drop videoStyles"
        )
        return INVALID
    if chosen is not None:
        return VideoSpec(styles=chosen)
    return VideoSpec() if on else None


def _build(checked: dict[str, Any], video: VideoSpec | None) -> JobSpec:
    output = dict(checked.get("output", {}))
    if "formats" in output:
        output["formats"] = ("wav", *(fmt for fmt in output["formats"] if fmt != "wav"))
    return JobSpec(
        prompt=checked.get("prompt"),
        genres=checked.get("genres", ()),
        title=checked.get("title"),
        duration_s=checked.get("duration", model.DEFAULT_DURATION_S),
        bpm=checked.get("bpm"),
        key=checked.get("key"),
        seed=checked.get("seed"),
        artist_inspiration=checked.get("artist_inspiration", ()),
        lyrics=checked.get("lyrics"),
        vocals=VocalsSpec(**{k: v for k, v in checked.get("vocals", {}).items() if v != ()}),
        engines=EnginesSpec(**checked.get("engines", {})),
        video=video,
        output=OutputSpec(**output),
        master=MasterSpec(**checked.get("master", {})),
    )
