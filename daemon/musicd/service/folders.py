"""The service's folders (inbox, outbox, state): made at start-up, but only their last level.

An inbox or outbox on a NAS share whose share is not mounted looks like a missing folder
under an empty (or missing) mount point. Creating it with all its parents would quietly
turn the share into a local folder that nobody else sees. So musicd creates a folder only
when its parent exists, and otherwise refuses with a sentence that says what to check.
"""

from __future__ import annotations

import logging
from pathlib import Path

from musicd.errors import MusicdError

log = logging.getLogger(__name__)


class FolderMissingError(MusicdError):
    """A configured folder's parent does not exist (an unmounted share, or a typo)."""


def missing_parent_message(folder: Path, role: str) -> str:
    """The sentence for `folder` (the `role`: inbox, outbox, state folder) whose parent is missing."""
    parent = folder.parent
    return (
        f"the {role}'s parent folder {parent} does not exist: is the share mounted? "
        f"musicd creates only the last level ({folder.name}) itself; if {parent} is meant to be a "
        f"local folder, create it (mkdir -p {parent}) or fix the {role} path in the configuration"
    )


def make_last_level(folder: Path, role: str) -> bool:
    """Create `folder` if it is missing and its parent exists; True if it was created.

    Raises FolderMissingError when the parent does not exist, and MusicdError when the
    folder cannot be created (permissions, a file in the way), each with a sentence.
    """
    if folder.is_dir():
        return False
    if not folder.parent.is_dir():
        raise FolderMissingError(missing_parent_message(folder, role))
    try:
        folder.mkdir(exist_ok=True)
    except FileExistsError:
        raise MusicdError(
            f"the {role} {folder} is a file, not a folder: move it away or fix the path"
        ) from None
    except OSError as exc:
        raise MusicdError(
            f"cannot create the {role} {folder} ({exc.strerror}); create it yourself, writable by the "
            "service user, or fix the path in the configuration"
        ) from None
    log.info("created the %s %s", role, folder)
    return True
