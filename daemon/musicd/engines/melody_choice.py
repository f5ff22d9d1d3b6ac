"""Which melody writer runs: `engines.melody` resolved, the compose call, and the manifest's record.

`rules` is the rule-based composer. `magenta` is the melody RNN in its sidecar
(melody_magenta.py); when its environment or bundle is missing, or the sidecar fails even
after a restart, the song is composed with the rules and the record says why. `auto` takes
the rules: measured in README ("Which melody `auto` picks"), the rule-based lines have the
clearer phrase shape and the Magenta engine costs a resident TensorFlow process.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from musicd.engines.base import Availability
from musicd.errors import MusicdError
from musicd.music.compose import compose

if TYPE_CHECKING:
    from musicd.engines.cache import ModelCache
    from musicd.engines.melody_magenta import MagentaMelodyEngine
    from musicd.music.plan import Plan
    from musicd.music.score import Score

log = logging.getLogger(__name__)

AUTO_MELODY = "rules"
AUTO_REASON = "auto picks the rule-based composer (clearer phrases, no resident TensorFlow process)"


def compose_with_melody(
    plan: Plan, asked: str, cache: ModelCache, engine: MagentaMelodyEngine | None = None
) -> tuple[Score, dict[str, Any]]:
    """The composed score and the manifest's `engines.compose` entry (asked, used, reason, ...)."""
    if asked in ("rules", "auto"):
        return compose(plan), {
            "asked": asked,
            "used": "rules",
            "reason": AUTO_REASON if asked == "auto" else "",
        }
    if asked != "magenta":
        reason = f"unknown melody engine {asked!r}; used the rule-based composer"
        return compose(plan), {"asked": asked, "used": "rules", "reason": reason}
    if engine is None:
        from musicd.engines.melody_magenta import MagentaMelodyEngine

        engine = MagentaMelodyEngine(cache)
    status = engine.availability()
    if not status.usable:
        reason = f"magenta asked for but unusable: {status.reason}; used the rule-based composer"
        log.warning("melody: %s", reason)
        return compose(plan), {"asked": asked, "used": "rules", "reason": reason}
    try:
        score = compose(plan, melody=engine.write)
    except MusicdError as error:
        reason = f"the magenta melody engine failed: {error}; used the rule-based composer"
        log.warning("melody: %s", reason)
        return compose(plan), {"asked": asked, "used": "rules", "reason": reason}
    return score, {
        "asked": asked,
        "used": "magenta",
        "reason": f"magenta as asked ({status.reason})",
        **engine.record(),
    }


def magenta_availability(probe: bool = True) -> Availability:
    """Whether the Magenta melody engine can run here, and why not (for `musicd doctor`).

    The files are checked first; with `probe`, the sidecar is then started for real (TensorFlow
    imported, the bundle loaded), asked for one bar of melody and stopped, so a broken
    TensorFlow or a bad bundle is reported with the sidecar's own error, not as usable.
    """
    from musicd.engines.magenta_sidecar import MagentaSidecar, SidecarCommand
    from musicd.engines.melody_magenta import MagentaPaths

    paths = MagentaPaths.discover()
    status = paths.availability()
    if not probe or not status.usable:
        return status
    try:
        sidecar = MagentaSidecar.launch(SidecarCommand(paths.python, paths.server, paths.bundle))
    except MusicdError as error:
        return Availability(False, f"{error} (run `make magenta-env`, then `musicd doctor` again)")
    try:
        notes = sidecar.generate([(60, 0, 4)], 16, seed=1)
    except MusicdError as error:
        return Availability(False, f"the Magenta sidecar started but could not generate: {error}")
    finally:
        sidecar.release_resident()
    return Availability(
        True,
        f"{status.reason}; the sidecar started in {sidecar.load_s:.1f} s and wrote {len(notes)} notes",
    )
